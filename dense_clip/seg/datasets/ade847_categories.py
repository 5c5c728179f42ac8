# ruff: noqa: E501
"""ADE20K-847 (ADE20K-Full) categories: ADE20K 2021 object ids and names, in train-id order.

Row ``i`` of the table is train id ``i``: ``<ADE20K_2021_17_01 object id>|<name>``. The list and its
order are the ones MaskFormer introduced for ADE20K-Full (datasets/prepare_ade20k_full_sem_seg.py in
facebookresearch/MaskFormer) and CAT-Seg evaluates on (cat_seg/data/datasets/register_ade20k_847.py
in cvlab-kaist/CAT-Seg). Names are the benchmark's WordNet-style synonym lists.
"""

from __future__ import annotations

_TABLE = """
2978|wall
312|building, edifice
2420|sky
2855|tree
2131|road, route
976|floor, flooring
447|ceiling
165|bed
2377|sidewalk, pavement
838|earth, ground
350|cabinet
1831|person, individual, someone, somebody, mortal, soul
1125|grass
3055|windowpane, window
401|car, auto, automobile, machine, motorcar
1610|mountain, mount
1910|plant, flora, plant life
2684|table
471|chair
687|curtain, drape, drapery, mantle, pall
774|door
2473|sofa, couch, lounge
2264|sea
1735|painting, picture
2994|water
1564|mirror
1276|house
2178|rug, carpet, carpeting
2329|shelf
57|armchair
907|fence, fencing
913|field
1395|lamp
2138|rock, stone
2272|seat
2128|river
724|desk
155|bathtub, bathing tub, bath, tub
2053|railing, rail
2380|signboard, sign
689|cushion
1788|path
3087|work surface
2530|stairs, steps
581|column, pillar
2388|sink
2985|wardrobe, closet, press
2454|snow
2096|refrigerator, icebox
137|base, pedestal, stand
294|bridge, span
212|blind, screen
2185|runway
524|cliff, drop, drop-off
2212|sand
943|fireplace, hearth, open fireplace
1869|pillow
2251|screen door, screen
2793|toilet, can, commode, crapper, pot, potty, stool, throne
2423|skyscraper
1121|grandstand, covered stand
266|box
1948|pool table, billiard table, snooker table
1744|palm, palm tree
783|double door
571|coffee table, cocktail table
627|counter
629|countertop
491|chest of drawers, chest, bureau, dresser
1374|kitchen island
223|boat
3016|waterfall, falls
2598|stove, kitchen stove, range, kitchen range, cooking stove
978|flower
239|bookcase
608|controls
236|book
2531|stairway, staircase
2616|streetlight, street lamp
591|computer, computing machine, computing device, data processor, electronic computer, information processing system
327|bus, autobus, coach, charabanc, double-decker, jitney, motorbus, motorcoach, omnibus, passenger vehicle
2679|swivel chair
1451|light, light source
181|bench
420|case, display case, showcase, vitrine
2821|towel
1023|fountain
855|embankment
2733|television receiver, television, television set, tv, tv set, idiot box, boob tube, telly, goggle box
2928|van
1240|hill
77|awning, sunshade, sunblind
1969|poster, posting, placard, notice, bill, card
2880|truck, motortruck
14|airplane, aeroplane, plane
1936|pole
2828|tower
631|court
103|ball
3144|aircraft carrier, carrier, flattop, attack aircraft carrier
308|buffet, counter, sideboard
1282|hovel, hut, hutch, shack, shanty
38|apparel, wearing apparel, dress, clothes
1563|minibike, motorbike
29|animal, animate being, beast, brute, creature, fauna
480|chandelier, pendant, pendent
2569|step, stair
247|booth, cubicle, stall, kiosk
187|bicycle, bike, wheel, cycle
778|doorframe, doorcase
2243|sconce
1941|pond
2833|trade name, brand name, brand, marque
120|bannister, banister, balustrade, balusters, handrail
95|bag
2836|traffic light, traffic signal, stoplight
1087|gazebo
868|escalator, moving staircase, moving stairway
1401|land, ground, soil
220|board, plank
47|arcade machine
843|eiderdown, duvet, continental quilt
123|bar
2537|stall, stand, sales booth
1927|playground
2337|ship
1702|ottoman, pouf, pouffe, puff, hassock
64|ashcan, trash can, garbage can, wastebin, ash bin, ash-bin, ashbin, dustbin, trash barrel, trash bin
249|bottle
642|cradle
1981|pot, flowerpot
609|conveyer belt, conveyor belt, conveyer, conveyor, transporter
2840|train, railroad train
2586|stool
1393|lake
2704|tank, storage tank
1304|ice, water ice
146|basket, handbasket
1494|manhole
2739|tent, collapsible shelter
389|canopy
1551|microwave, microwave oven
131|barrel, cask
738|dirt track
161|beam
747|dishwasher, dish washer, dishwashing machine
1919|plate
3109|screen, crt screen
2179|ruins
2989|washer, automatic washer, washing machine
206|blanket, cover
1930|plaything, toy
1002|food, solid food
2254|screen, silver screen, projection screen
1708|oven
2526|stage
160|beacon, lighthouse, beacon light, pharos
2901|umbrella
2262|sculpture
44|aqueduct
597|container
2235|scaffolding, staging
1260|hood, exhaust hood
682|curb, curbing, kerb
2151|roller coaster
3107|horse, equus caballus
432|catwalk
1098|glass, drinking glass
2932|vase
461|central reservation
410|carousel
2046|radiator
533|closet
1481|machine
1858|pier, wharf, wharfage, dock
894|fan
1322|inflatable bounce game
1891|pitch
1756|paper
49|arcade, colonnade
1272|hot tub
1229|helicopter
2850|tray
1784|partition, divider
2962|vineyard
259|bowl
319|bullring
954|flag
1974|pot
1013|footbridge, overcrossing, pedestrian bridge
2356|shower
97|bag, traveling bag, travelling bag, grip, suitcase
318|bulletin board, notice board
592|confessional booth
2885|trunk, tree trunk, bole
1017|forest
851|elevator door
1407|laptop, laptop computer
1332|instrument panel
303|bucket, pail
2714|tapestry, tapis
1924|platform
1346|jacket
1081|gate
1583|monitor, monitoring device
2727|telephone booth, phone booth, call box, telephone box, telephone kiosk
2509|spotlight, spot
2123|ring
602|control panel
202|blackboard, chalkboard
10|air conditioner, air conditioning
490|chest
530|clock
2213|sand dune
1884|pipe, pipage, piping
2934|vault
2687|table football
387|cannon
2668|swimming pool, swimming bath, natatorium
982|fluorescent, fluorescent fixture
2547|statue
1474|loudspeaker, speaker, speaker unit, loudspeaker system, speaker system
877|exhibitor
1391|ladder
414|carport
698|dam
2019|pulpit
2422|skylight, fanlight
3010|water tower
1139|grill, grille, grillwork
753|display board
1747|pane, pane of glass, window glass
2175|rubbish, trash, scrap
1301|ice rink
1033|fruit
1789|patio
2939|vending machine
2730|telephone, phone, telephone set
1652|net
90|backpack, back pack, knapsack, packsack, rucksack, haversack
1349|jar
2830|track
1485|magazine
2370|shutter
2155|roof
118|banner, streamer
1402|landfill
1957|post
3130|altarpiece, reredos
1197|hat, chapeau, lid
52|arch, archway
2688|table game
96|bag, handbag, pocketbook, purse
762|document, written document, papers
772|dome
1857|pier
2315|shanties
1016|forecourt
643|crane
3105|dog, domestic dog, canis familiaris
1849|piano, pianoforte, forte-piano
791|drawing
349|cabin
6|ad, advertisement, advertizement, advertising, advertizing, advert
3114|amphitheater, amphitheatre, coliseum
1587|monument
1233|henhouse
559|cockpit
1223|heater, warmer
3049|windmill, aerogenerator, wind generator
1943|pool
853|elevator, lift
709|decoration, ornament, ornamentation
1390|labyrinth
2748|text, textual matter
2007|printer
1546|mezzanine, first balcony
1513|mattress
2600|straw
2538|stalls
1790|patio, terrace
194|billboard, hoarding
326|bus stop
2877|trouser, pant
594|console table, console
2036|rack
1662|notebook
2366|shrine
1754|pantry
418|cart
2553|steam shovel
1951|porch
1963|postbox, mailbox, letter box
918|figurine, statuette
2086|recycling bin
997|folding screen
2731|telescope
704|deck chair, beach chair
1365|kennel
569|coffee maker
3108|altar, communion table, lord's table
948|fish
839|easel
63|artificial golf green
1305|iceberg
378|candlestick, candle holder
2362|shower stall, shower bath
2734|television stand
2982|wall socket, wall plug, electric outlet, electrical outlet, outlet, electric receptacle
2398|skeleton
1119|grand piano, grand
382|candy, confect
1141|grille door
1805|pedestal, plinth, footstall
3102|jersey, t-shirt, tee shirt
2341|shoe
1131|gravestone, headstone, tombstone
2316|shanty
2626|structure
3104|rocking chair, rocker
198|bird
1896|place mat
2800|tomb
190|big top
3131|gas pump, gasoline pump, petrol pump, island dispenser
1463|lockers
357|cage
929|finger
209|bleachers
912|ferris wheel
1164|hairdresser chair
1509|mat
2539|stands
3116|aquarium, fish tank, marine museum
2615|streetcar, tram, tramcar, trolley, trolley car
1644|napkin, table napkin, serviette
818|dummy
242|booklet, brochure, folder, leaflet, pamphlet
2217|sand trap
2347|shop, store
2686|table cloth
2300|service station
572|coffin
789|drawer
358|cages
2443|slot machine, coin machine
101|balcony
2969|volleyball court
2692|table tennis
606|control table
2339|shirt
1533|merchandise, ware, product
2060|railway
1782|parterre
495|chimney
371|can, tin, tin can
2707|tanks
889|fabric, cloth, material, textile
3156|alga, algae
2683|system
1499|map
1135|greenhouse
1619|mug
125|barbecue
2838|trailer
2792|toilet tissue, toilet paper, bathroom tissue
1695|organ
746|dishrag, dishcloth
1343|island
1370|keyboard
2858|trench
145|basket, basketball hoop, hoop
2565|steering wheel, wheel
1892|pitcher, ewer
1103|goal
286|bread, breadstuff, staff of life
170|beds
3073|wood
922|file cabinet
1655|newspaper, paper
1602|motorboat
2160|rope
1151|guitar
2176|rubble
2239|scarf
132|barrels
394|cap
1424|leaves
607|control tower
700|dashboard
116|bandstand
1425|lectern
2676|switch, electric switch, electrical switch
141|baseboard, mopboard, skirting board
2360|shower room
2449|smoke
897|faucet, spigot
317|bulldozer
2228|saucepan
2351|shops
1543|meter
656|crevasse
1088|gear
373|candelabrum, candelabra
2472|sofa bed
2892|tunnel
1740|pallet
3067|wire, conducting wire
1367|kettle, boiler
188|bidet
79|baby buggy, baby carriage, carriage, perambulator, pram, stroller, go-cart, pushchair, pusher
1633|music stand
1885|pipe, tube
677|cup
1779|parking meter
1297|ice hockey rink
2334|shelter
3027|weeds
2735|temple
1791|patty, cake
2405|ski slope
1748|panel
2983|wallet
3035|wheel
2824|towel rack, towel horse
2168|roundabout
385|canister, cannister, tin
2148|rod
2465|soap dispenser
175|bell
390|canvas
268|box office, ticket office, ticket booth
2722|teacup
2857|trellis
3088|workbench
2926|valley, vale
2782|toaster
1378|knife
1934|podium
2072|ramp
2889|tumble dryer
944|fireplug, fire hydrant, plug
1158|gym shoe, sneaker, tennis shoe
1383|lab bench
867|equipment
2145|rocky formation
1915|plastic
361|calendar
402|caravan
482|check-in-desk
2761|ticket counter
300|brush
1554|mill
636|covered bridge
260|bowling alley
1186|hanger
871|excavator
2859|trestle
2103|revolving door
208|blast furnace
2236|scale, weighing machine
2012|projector
2462|soap
1462|locker
2832|tractor
2617|stretcher
1024|frame
1129|grating
18|alembic
376|candle, taper, wax light
134|barrier
407|cardboard
434|cave
2017|puddle
2717|tarp
2005|price tag
2993|watchtower
1545|meters
1445|light bulb, lightbulb, bulb, incandescent lamp, electric light, electric-light bulb
2831|tracks
1161|hair dryer
2411|skirt
2949|viaduct
1769|paper towel
552|coat
2327|sheet
939|fire extinguisher, extinguisher, asphyxiator
3013|water wheel
1986|pottery, clayware
1486|magazine rack
2723|teapot
1549|microphone, mike
2649|support
1020|forklift
392|canyon
422|cash register, register
1419|leaf, leafage, foliage
2099|remote control, remote
2464|soap dish
3058|windshield, windscreen
430|cat
675|cue, cue stick, pool cue, pool stick
2941|vent, venthole, vent-hole, blowhole
2955|videos
2355|shovel
840|eaves
32|antenna, aerial, transmitting aerial
2338|shipyard
1232|hen, biddy
2834|traffic cone
2991|washing machines
2879|truck crane
444|cds
1657|niche
2246|scoreboard
296|briefcase
245|boot
2661|sweater, jumper
1202|hay
1714|pack
251|bottle rack
1095|glacier
1828|pergola
311|building materials
2732|television camera
947|first floor
2115|rifle
2738|tennis table
2525|stadium
2194|safety belt
634|cover
740|dish rack
2682|synthesizer
2020|pumpkin
1156|gutter
1036|fruit stand
1295|ice floe, floe
1181|handle, grip, handgrip, hold
3037|wheelchair
1614|mousepad, mouse mat
736|diploma
893|fairground ride
2047|radio
1274|hotplate
1361|junk
3036|wheelbarrow
2606|stream
2797|toll plaza
2022|punching bag
2876|trough
2758|throne
472|chair desk
3028|weighbridge
882|extractor fan
1189|hanging clothes
743|dish, dish aerial, dish antenna, saucer
3122|alarm clock, alarm
2401|ski lift
468|chain
1061|garage
1523|mechanical shovel
3059|wine rack
2843|tramway
2853|treadmill
1529|menu
214|block
3032|well
3071|witness stand
277|branch
813|duck
426|casserole
1039|frying pan
727|desk organizer
1508|mast
2490|spectacles, specs, eyeglasses, glasses
2299|service elevator
768|dollhouse
1172|hammock
537|clothes hanging
1847|photocopier
1664|notepad
1110|golf cart
1014|footpath
662|cross
121|baptismal font
227|boiler
2410|skip
2165|rotisserie
2696|tables
3005|water mill
1231|helmet
635|cover curtain
292|brick
2690|table runner
65|ashtray
2607|street box
2574|stick
1188|hangers
456|cells
2913|urinal
459|centerpiece
1955|portable fridge
827|dvds
1111|golf club
2412|skirting board
2997|water cooler
528|clipboard
366|camera, photographic camera
1863|pigeonhole
500|chips
1001|food processor
1958|post box
1441|lid
809|drum
210|blender
435|cave entrance
718|dental chair
1674|obelisk
388|canoe
1572|mobile
1584|monitors
1944|pool ball
674|cue rack
99|baggage carts
2352|shore
1019|fork
1763|paper filer
185|bicycle rack
554|coat rack
1066|garland
2508|sports bag
951|fish tank
2822|towel dispenser
415|carriage
297|brochure
1914|plaque
2619|stringer
1338|iron
2505|spoon
955|flag pole
2786|toilet brush
238|book stand
3000|water faucet, water tap, tap, hydrant
2763|ticket office
299|broom
822|dvd
1288|ice bucket
3101|carapace, shell, cuticle, shield
2894|tureen
992|folders
489|chess
2157|root
2309|sewing machine
1576|model
1810|pen
2964|violin
2662|sweatshirt
2087|recycling materials
1569|mitten
503|chopping board, cutting board
1505|mask
1468|log
1613|mouse, computer mouse
1138|grill
1256|hole
2715|target
2846|trash bag
477|chalk
2576|sticks
108|balloon
2245|score
1162|hair spray
2149|roll
2183|runner
858|engine
1324|inflatable glove
1055|games
1741|pallets
149|baskets
615|coop
825|dvd player
2143|rocking horse
304|buckets
283|bread rolls
2322|shawl
3017|watering can
2510|spotlights
1960|post-it
265|bowls
2282|security camera
2184|runner cloth
1461|lock
3113|alarm, warning device, alarm system
2372|side
2166|roulette
232|bone
693|cutlery
1945|pool balls
3039|wheels
2494|spice rack
1908|plant pots
2827|towel ring
280|bread box
2950|video
1044|funfair
288|breads
2863|tripod
1342|ironing board
2409|skimmer
1258|hollow
2249|scratching post
2862|tricycle
920|file box
1607|mountain pass
2802|tombstones
610|cooker
3129|card game, cards
1108|golf bag
2823|towel paper
476|chaise lounge
2641|sun
2788|toilet paper holder
2070|rake
1368|key
2903|umbrella stand
699|dartboard
2844|transformer
942|fireplace utensils
2663|sweatshirts
457|cellular telephone, cellular phone, cellphone, cell, mobile phone
2701|tallboy
2540|stapler
2231|sauna
2746|test tube
1738|palette
2350|shopping carts
2808|tools
2025|push button, push, button
2541|star
2156|roof rack
126|barbed wire
2512|spray
831|ear
2503|sponge
2039|racket
2774|tins
886|eyeglasses
919|file
2240|scarfs
2636|sugar bowl
963|flip flop
1218|headstones
1406|laptop bag
1420|leash
526|climbing frame
2639|suit hanger
975|floor spotlight
1921|plate rack
2305|sewer
1193|hard drive
2517|sprinkler
2809|tools box
1647|necklace
314|bulbs
2560|steel industry
545|club
1345|jack
775|door bars
603|control panel, instrument panel, control board, board, panel
1163|hairbrush
1641|napkin holder
1678|office
2450|smoke detector
2915|utensils
42|apron
2242|scissors
2741|terminal
1143|grinder
862|entry phone
1654|newspaper stand
1826|pepper shaker
1689|onions
3124|central processing unit, cpu, c p u , central processor, processor, mainframe
2710|tape
152|bat
549|coaster
360|calculator
1982|potatoes
1478|luggage rack
2203|salt
2612|street number
2956|viewpoint
2681|sword
437|cd
2171|rowing machine
1933|plug
3110|andiron, firedog, dog, dog-iron
1824|pepper
2803|tongs
234|bonfire
764|dog dish
177|belt
817|dumbbells
3145|videocassette recorder, vcr
1262|hook
864|envelopes
2359|shower faucet
2992|watch
1725|padlock
2667|swimming pool ladder
2484|spanners
1133|gravy boat
1667|notice board
2847|trash bags
932|fire alarm
1392|ladle
2573|stethoscope
2140|rocket
1046|funnel
264|bowling pins
2927|valve
2752|thermometer
679|cups
2493|spice jar
1658|night light
2466|soaps
1057|games table
2444|slotted spoon
2093|reel
2248|scourer
2432|sleeping robe
726|desk mat
816|dumbbell
1171|hammer
2766|tie
2900|typewriter
2313|shaker
488|cheese dish
2265|sea star
2043|racquet
332|butane gas cylinder
1771|paper weight
2320|shaving brush
2646|sunglasses
1089|gear shift
2826|towel rail
3148|adding machine, totalizer, totaliser
"""


def _parse(table: str) -> tuple[tuple[int, str], ...]:
    rows = (line.split('|', 1) for line in table.strip().splitlines())
    return tuple((int(ade_id), name) for ade_id, name in rows)


#: ``(ade20k_2021_object_id, name)`` per train id, 847 rows.
ADE847_CATEGORIES: tuple[tuple[int, str], ...] = _parse(_TABLE)
#: Class names in train-id order.
ADE847_CLASSES: tuple[str, ...] = tuple(name for _, name in ADE847_CATEGORIES)
