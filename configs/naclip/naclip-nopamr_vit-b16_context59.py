# NACLIP on PASCAL Context-59 without PAMR: `test_all.sh reduced naclip 5 off` in
# sinahmr/NACLIP (eval.py --pamr off sets pamr_steps=0); otherwise as the PAMR config.
_base_ = ['./naclip_vit-b16_context59.py']
model = dict(steps=[dict(type='Renormalise')])
