"""PASCAL Context 459 class names, in label order (label ``i`` = LabelMap value ``i + 1``).

The 459 names are the ones of ``labels.txt`` in the PASCAL Context full annotation release
(trainval.tar.gz), alphabetical; CAT-Seg evaluates on them in this order
(cat_seg/data/datasets/register_pascal_context.py in cvlab-kaist/CAT-Seg). No name has a space, so
the table is a whitespace-separated list.
"""

from __future__ import annotations

_NAMES = """
accordion aeroplane airconditioner antenna artillery ashtray atrium babycarriage bag ball balloon
bambooweaving barrel baseballbat basket basketballbackboard bathtub bed bedclothes beer bell bench
bicycle binoculars bird birdcage birdfeeder birdnest blackboard board boat bone book bottle
bottleopener bowl box bracelet brick bridge broom brush bucket building bus cabinet cabinetdoor cage
cake calculator calendar camel camera cameralens can candle candleholder cap car card cart case
casetterecorder cashregister cat cd cdplayer ceiling cellphone cello chain chair chessboard chicken
chopstick clip clippers clock closet cloth clothestree coffee coffeemachine comb computer concrete
cone container controlbooth controller cooker copyingmachine coral cork corkscrew counter court cow
crabstick crane crate cross crutch cup curtain cushion cuttingboard dais disc disccase dishwasher
dock dog dolphin door drainer dray drinkdispenser drinkingmachine drop drug drum drumkit duck
dumbbell earphone earrings egg electricfan electriciron electricpot electricsaw electronickeyboard
engine envelope equipment escalator exhibitionbooth extinguisher eyeglass fan faucet faxmachine
fence ferriswheel fireextinguisher firehydrant fireplace fish fishtank fishbowl fishingnet
fishingpole flag flagstaff flame flashlight floor flower fly foam food footbridge forceps fork
forklift fountain fox frame fridge frog fruit funnel furnace gamecontroller gamemachine gascylinder
gashood gasstove giftbox glass glassmarble globe glove goal grandstand grass gravestone ground
guardrail guitar gun hammer handcart handle handrail hanger harddiskdrive hat hay headphone heater
helicopter helmet holder hook horse horse-drawncarriage hot-airballoon hydrovalve ice inflatorpump
ipod iron ironingboard jar kart kettle key keyboard kitchenrange kite knife knifeblock ladder
laddertruck ladle laptop leaves lid lifebuoy light lightbulb lighter line lion lobster lock machine
mailbox mannequin map mask mat matchbook mattress menu metal meterbox microphone microwave mirror
missile model money monkey mop motorbike mountain mouse mousepad musicalinstrument napkin net
newspaper oar ornament outlet oven oxygenbottle pack pan paper paperbox papercutter parachute
parasol parterre patio pelage pen pencontainer pencil person photo piano picture pig pillar pillow
pipe pitcher plant plastic plate platform player playground pliers plume poker pokerchip pole
pooltable postcard poster pot pottedplant printer projector pumpkin rabbit racket radiator radio
rail rake ramp rangehood receiver recorder recreationalmachines remotecontrol road robot rock rocket
rockinghorse rope rug ruler runway saddle sand saw scale scanner scissors scoop screen screwdriver
sculpture scythe sewer sewingmachine shed sheep shell shelves shoe shoppingcart shovel sidecar
sidewalk sign signallight sink skateboard ski sky sled slippers smoke snail snake snow snowmobiles
sofa spanner spatula speaker speedbump spicecontainer spoon sprayer squirrel stage stair stapler
stick stickynote stone stool stove straw stretcher sun sunglass sunshade surveillancecamera swan
sweeper swimring swimmingpool swing switch table tableware tank tap tape tarp telephone
telephonebooth tent tire toaster toilet tong tool toothbrush towel toy toycar track train
trampoline trashbin tray tree tricycle tripod trophy truck tube turtle tvmonitor tweezers typewriter
umbrella unknown vacuumcleaner vendingmachine videocamera videogameconsole videoplayer videotape
violin wakeboard wall wallet wardrobe washingmachine watch water waterdispenser waterpipe
waterskateboard watermelon whale wharf wheel wheelchair window windowblinds wineglass wire wood
wool
"""

#: Class names in label order, 459 entries.
CONTEXT459_CLASSES: tuple[str, ...] = tuple(_NAMES.split())
