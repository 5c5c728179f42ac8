"""CLIP-DINOiser's head in the segmentor, on a tiny random CLIP: features, refinement,
background, training, checkpoints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dense_clip.models.clip import DenseRequest
from dense_clip.models.dinoiser import pooled_refinement
from dense_clip.testing import tiny_segmentor

TINY = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=4, width=32, patch_size=8,
                                          head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
VOCAB = dict(classnames=['red square', 'green disc'], background='background: background, sky')


def build(**head):
    model = tiny_segmentor(
        clip=dict(model_cfg=TINY), text=dict(vocabulary=VOCAB),
        head=dict(type='DINOiserHead', corr_dim=16, **head), logit_scale=100.0,
        test_cfg=dict(mode='whole'))
    with torch.no_grad():
        for p in model.clip_model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def test_heads_read_the_ffn_input_of_the_third_from_last_block():
    model = build()
    images = torch.randn(2, 3, 32, 40)
    assert model.head.request == DenseRequest(ffn_inputs=(-3,))
    dense = model.encoder(images, request=model.head.request)
    inter = model.head.features(dense)
    x = model.encoder(images, return_blocks=(-4,)).blocks[-4]  # input of block -3
    block = model.clip_model.visual.transformer.resblocks[-3]
    ln2 = block.ln_2(x + block.ls_1(block.attention(block.ln_1(x))))
    torch.testing.assert_close(inter, ln2[:, 1:].transpose(1, 2).reshape(2, 32, 4, 5))


def test_ffn_input_pass_leaves_the_dense_features_unchanged():
    model = build()
    images = torch.randn(1, 3, 32, 32)
    plain = model.encoder(images)
    tapped = model.encoder(images, request=DenseRequest(ffn_inputs=(-3, -1)))
    assert torch.equal(plain.dense, tapped.dense)


def test_patch_scores_are_softmaxed_refined_maskclip_cosines():
    model = build()
    text = model.text_embeddings(model.vocabulary)
    images = torch.randn(1, 3, 32, 32)
    dense = model.encoder(images, request=model.head.request)
    inter = model.head.features(dense)
    corr = F.normalize(model.head.corr_head.conv(inter).flatten(2), dim=1)
    corr = corr.transpose(1, 2) @ corr
    refined = pooled_refinement(dense.dense, corr, 0.2)
    expected = torch.einsum('ndhw,sd->nshw', F.normalize(refined, dim=1), text)
    out = model.window_scores(images, upsample=False)
    assert out.space == 'prob'  # softmax(100 cos) on the patch grid, as the authors' cls_seg
    torch.testing.assert_close(out.scores, (100 * expected).softmax(1))
    plain = build(refine=False)
    maskclip = torch.einsum('ndhw,sd->nshw', F.normalize(dense.dense, dim=1), text)
    torch.testing.assert_close(plain.window_scores(images, upsample=False).scores,
                               (100 * maskclip).softmax(1))


def test_background_head_hands_cells_to_background():
    model = build(apply_background=True, delta=1.01)  # every cell uncertain
    with torch.no_grad():
        model.head.bkg_head.conv.bias.fill_(-100.0)  # every cell non-salient
    samples = model.predict(torch.randn(1, 3, 32, 32))
    assert samples[0].pred_sem_seg.data.eq(0).all()
    with torch.no_grad():
        model.head.bkg_head.conv.bias.fill_(100.0)  # salient everywhere: no override
    images = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model.window_scores(images).scores,
                               build().window_scores(images).scores)


def sample(labels: torch.Tensor) -> SegDataSample:
    data = SegDataSample(metainfo=dict(img_shape=labels.shape, ori_shape=labels.shape))
    data.gt_sem_seg = PixelData(data=labels[None])
    return data


def test_a_few_training_steps_decrease_the_loss():
    model = build(teacher=dict(type='oracle'))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(('head.corr_head.', 'head.bkg_head.'))
                             for n in trainable)
    images = torch.randn(4, 3, 32, 32)
    labels = torch.zeros(4, 32, 32, dtype=torch.long)
    labels[:, :16, :16] = 1
    labels[:, 16:, 8:24] = 2
    samples = [sample(label) for label in labels]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    first = None
    for _ in range(15):
        losses = model.loss(images, samples)
        total = sum(losses.values())
        first = total.item() if first is None else first
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    assert set(losses) == {'loss_corr', 'loss_bkg'}
    assert total.item() < 0.9 * first
    assert not model.clip_model.training


def test_training_without_a_teacher_is_a_clear_error():
    with pytest.raises(ValueError, match='teacher'):
        build().loss(torch.randn(1, 3, 32, 32), [sample(torch.zeros(32, 32, dtype=torch.long))])


def test_heads_checkpoint_in_the_authors_layout_is_loaded(tmp_path):
    state = {'obj_proj.weight': torch.randn(16, 32, 3, 3), 'obj_proj.bias': torch.randn(16),
             'bkg_decoder.weight': torch.randn(1, 32, 1, 1), 'bkg_decoder.bias': torch.randn(1)}
    torch.save({'epoch': 3, 'model_state_dict': state}, tmp_path / 'last.pt')
    model = build(checkpoint=str(tmp_path / 'last.pt'))
    model.init_weights()
    assert torch.equal(model.head.corr_head.conv.weight, state['obj_proj.weight'])
    assert torch.equal(model.head.bkg_head.conv.bias, state['bkg_decoder.bias'])


def test_a_trained_segmentor_checkpoint_loads_as_head_weights():
    trained = build()
    state = {f'head.{k}': v for k, v in trained.head.state_dict().items()}
    fresh = build()
    fresh.head.load_heads({'state_dict': state, 'meta': {}})
    assert torch.equal(fresh.head.corr_head.conv.weight, trained.head.corr_head.conv.weight)


def test_resnet_tower_is_refused():
    from dense_clip.testing import tiny_resnet_config

    with pytest.raises(ValueError, match='ViT'):
        tiny_segmentor(clip=dict(model_cfg=tiny_resnet_config()),
                       head=dict(type='DINOiserHead'))
