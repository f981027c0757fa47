"""How simulated citizens word their tickets, in English and Chinese.

Placeholders: {kw} a taxonomy keyword (inserted verbatim), {place} where it is, {clause} the
keyword sentence, {pii} contact details. Filler words here must not contain any taxonomy
keyword or gazetteer name; the tests check that against the sample taxonomy.
"""

from __future__ import annotations

# Keyword -> clauses that use it. A keyword without an entry falls back to _GENERIC_*.
CLAUSES_EN: dict[str, tuple[str, ...]] = {
    "overflowing bin": ("there is an {kw} full of bags", "an {kw} has not been emptied for days"),
    "overflowing": ("the bins are {kw} again", "the bins have been {kw} since yesterday"),
    "garbage": ("{kw} is piled up next to the bins", "bags of {kw} are lying on the pavement"),
    "trash": ("{kw} is spilling onto the pavement", "there is {kw} all around the bins"),
    "rubbish": ("there is {kw} everywhere around the bins", "{kw} has been left out for days"),
    "litter bin": ("the {kw} has not been emptied for days", "the {kw} is stuffed to the top"),
    "flooded": ("the road is {kw}", "the whole lane is {kw} after the rain"),
    "flooding": ("there is serious {kw}", "we have {kw} again after the rain"),
    "flood": ("a {kw} is covering all the lanes", "there is a {kw} and cars cannot pass"),
    "waterlogged": ("the carriageway is completely {kw}", "the lanes are {kw}"),
    "standing water": ("there is deep {kw} across the lanes", "{kw} is up to the kerbs"),
    "smoke": ("thick {kw} is coming out of a building", "black {kw} is rising over the shops"),
    "fire": ("there is a {kw} near the shops", "a shop seems to be on {kw}"),
    "burning": ("something is {kw} by the roadside", "a building is {kw}"),
    "flames": ("I can see {kw} coming out of a window", "there are {kw} next to the shops"),
    "pothole": ("there is a big {kw}", "a deep {kw} nearly threw me off my bike"),
    "hole in the road": ("there is a deep {kw}", "a {kw} is getting bigger every day"),
    "road damage": ("there is serious {kw}", "the {kw} is getting worse"),
    "broken road": (
        "the {kw} is dangerous for bikes",
        "there is a {kw} surface in the middle lane",
    ),
    "cracked road": ("there is a badly {kw} surface", "the {kw} surface is sinking"),
    "fallen tree": ("a {kw} is blocking the lanes", "there is a {kw} lying across the carriageway"),
    "tree down": ("there is a {kw} across the lanes", "we have a big {kw} after the storm"),
    "tree fell": ("a big {kw} over in the wind", "a {kw} onto the carriageway"),
    "tree has fallen": ("a {kw} onto the carriageway", "a large {kw} across two lanes"),
    "broken branch": ("a large {kw} is lying in the lane", "a {kw} is hanging over the lanes"),
    "illegally parked": ("a car is {kw} and blocks the lane", "a van has been {kw} all day"),
    "illegal parking": ("there is constant {kw}", "the {kw} makes it impossible to pass"),
    "double parked": ("a van is {kw} and blocks traffic", "two cars are {kw} again"),
    "parked on the sidewalk": ("a car is {kw}", "a black van is {kw} again"),
    "blocking the fire lane": ("a car is {kw}",),
    "construction": ("unannounced {kw} is closing a lane", "{kw} work has blocked half the lanes"),
    "roadworks": ("{kw} have closed a lane without any signs", "the {kw} are causing a huge jam"),
    "road works": ("{kw} started with no warning signs", "the {kw} have blocked a lane for days"),
    "digging up the road": ("a crew is {kw} again", "workers are {kw} without any signs"),
    "noise": ("the {kw} is unbearable", "the {kw} goes on until two in the morning"),
    "noisy": ("it is extremely {kw} every night", "a bar is {kw} until midnight"),
    "loud music": ("a bar plays {kw} until two am", "there is {kw} every night"),
    "too loud": ("the speakers of a shop are {kw}", "the dancing music is {kw} at night"),
    "streetlight": ("the {kw} is broken", "a {kw} has been dark for a week"),
    "street light": ("a {kw} has been dark for days", "the {kw} keeps flickering off"),
    "street lamp": ("the {kw} does not work", "a {kw} has been off since Monday"),
    "lamp is out": ("the {kw} and it is pitch dark", "the {kw} again"),
    "street vendor": ("a {kw} is blocking the pavement", "a {kw} has taken over the pavement"),
    "street vendors": ("{kw} occupy the whole pavement", "{kw} are crowding the pavement"),
    "hawker": ("a {kw} has set up on the pavement", "a {kw} blocks the pavement every evening"),
    "hawkers": ("{kw} crowd the pavement every evening", "{kw} have taken over the pavement"),
    "street stall": ("a {kw} is blocking pedestrians", "a {kw} has been set up on the pavement"),
}
_GENERIC_EN = ("I want to report {kw}", "there is a {kw} problem")

CLAUSES_ZH: dict[str, tuple[str, ...]] = {
    "垃圾桶": ("垃圾桶满了没人清理", "垃圾桶好几天没人收了"),
    "垃圾满": ("垃圾满了，一直没人来收", "这里垃圾满得堆到了地上"),
    "垃圾溢出": ("垃圾溢出到人行道上", "垃圾溢出来了，味道很大"),
    "垃圾": ("路边堆了很多垃圾，味道很大", "垃圾堆在人行道上好几天了"),
    "积水": ("路面积水很深，车都过不去", "积水已经没过脚踝"),
    "内涝": ("内涝严重，车辆无法通行", "下雨后又内涝了"),
    "淹水": ("淹水了，行人没法走", "整个路口淹水了"),
    "被淹": ("整条路都被淹了", "车道被淹了，很危险"),
    "冒烟": ("有栋楼在冒烟", "一家店铺一直在冒烟"),
    "着火": ("路边有东西着火了", "好像有家店着火了"),
    "火灾": ("好像发生火灾了", "可能有火灾，请马上派人"),
    "起火": ("一家店铺起火了", "路边车辆起火了"),
    "浓烟": ("有很大的浓烟冒出来", "浓烟滚滚，看不清路"),
    "坑洞": ("路上有个坑洞，很危险", "车道中间有个坑洞"),
    "路面破损": ("路面破损严重", "路面破损，电动车差点摔倒"),
    "大坑": ("路中间有个大坑", "车道上有个大坑"),
    "路面塌陷": ("路面塌陷了一块", "出现路面塌陷，很危险"),
    "倒树": ("有倒树挡住了车道", "一棵倒树横在路上"),
    "树倒": ("一棵树倒在路中间", "风太大，树倒在车道上了"),
    "树木倒伏": ("树木倒伏，挡住车道", "有树木倒伏，车辆无法通行"),
    "大树倒": ("一棵大树倒了，挡住了车道", "昨晚大风，大树倒在路上"),
    "断枝": ("有很多断枝掉在车道上", "断枝挂在半空，很危险"),
    "违停": ("有辆车违停很久了", "一辆货车违停，挡住车道"),
    "违章停车": ("有人违章停车，挡住了车道", "经常有人违章停车"),
    "乱停车": ("这里经常乱停车", "有人乱停车，行人没法走"),
    "乱停乱放": ("车辆乱停乱放，很难通行", "汽车乱停乱放，没人管"),
    "施工": ("路上在施工，没有任何提示", "施工占了一半车道"),
    "占道施工": ("有人占道施工", "占道施工好几天了，堵得厉害"),
    "挖路": ("又在挖路了", "有人在挖路，没有任何标志"),
    "围挡": ("围挡占了一半车道", "新设了围挡，车道被挡住了"),
    "噪音": ("晚上噪音很大，睡不着", "噪音一直到凌晨两点"),
    "扰民": ("广场舞音响扰民", "酒吧音乐扰民"),
    "太吵": ("半夜太吵了", "每天晚上都太吵了"),
    "吵闹": ("晚上一直很吵闹", "酒吧吵闹到半夜"),
    "路灯": ("路灯坏了，晚上一片漆黑", "路灯好几天不亮了"),
    "灯不亮": ("灯不亮了好几天", "晚上灯不亮，很不安全"),
    "摊贩": ("有摊贩占了人行道", "摊贩把人行道堵了"),
    "占道经营": ("有人占道经营", "店铺占道经营，行人没法走"),
    "摆摊": ("很多人在这里摆摊", "晚上有人摆摊，人行道走不通"),
    "小贩": ("小贩把人行道堵了", "有小贩在人行道上卖东西"),
}
_GENERIC_ZH = ("发现{kw}问题", "这里有{kw}的情况")


def clauses(keyword: str, language: str) -> tuple[str, ...]:
    """Clause templates for a keyword ({kw} marks where it goes verbatim)."""
    if language == "en":
        return CLAUSES_EN.get(keyword, _GENERIC_EN)
    table = CLAUSES_ZH.get(keyword)
    if table:
        return tuple(c.replace(keyword, "{kw}", 1) for c in table)
    return _GENERIC_ZH


# The problem in other words: no taxonomy keyword, so the keyword classifier leaves these
# unclassified and only fusion's paraphrase join can put them with their event (simulator
# `paraphrase_share`). Category id -> clauses.
PARAPHRASES_EN: dict[str, tuple[str, ...]] = {
    "overflowing_bin": (
        "the bins are stuffed and bags are split open on the ground",
        "bags have been piling up by the bins for days and it stinks",
        "the recycling containers are full to the brim and nobody collects them",
    ),
    "flooding": (
        "the water is up to the wheels of parked cars",
        "after the downpour the lanes turned into a river",
        "cars are stalling in deep water across the road",
    ),
    "smoke_fire": (
        "I can smell something scorched and see a black cloud over the roofs",
        "a shop is ablaze and people are running out",
        "grey fumes are pouring out of a window",
    ),
    "pothole": (
        "the asphalt has caved in and my front wheel dropped into it",
        "there is a crater in the middle lane",
        "the tarmac is crumbling and cars swerve around it",
    ),
    "fallen_tree": (
        "a big trunk is lying across the lanes after the storm",
        "the wind brought down an old plane tree onto the carriageway",
        "heavy boughs are blocking the carriageway",
    ),
    "illegal_parking": (
        "a lorry has been left on the pavement all day and pushchairs cannot get past",
        "someone left their car across the crossing and walked off",
        "cars are abandoned across the cycle lane",
    ),
    "road_construction": (
        "a crew has dug a trench across the lane with no signs",
        "diggers and fences are taking up half the road",
        "workers have fenced off a lane with no notice",
    ),
    "noise": (
        "the bass from the bar shakes our windows until two am",
        "the karaoke next door goes on all night and nobody can sleep",
        "square dancers play speakers at full volume every evening",
    ),
    "streetlight_out": (
        "the lamp posts on this stretch have been dark for a week",
        "it is pitch black at night, the lights on the poles never come on",
        "the lighting along the road is out of order and people trip",
    ),
    "illegal_vending": (
        "sellers with carts take over the pavement every evening",
        "people are selling fruit from tricycles on the pavement",
        "food carts block the walkway at night",
    ),
}
PARAPHRASES_ZH: dict[str, tuple[str, ...]] = {
    "overflowing_bin": ("环卫箱塞得满满的，袋子都掉到地上了", "这里的废弃物好几天没人清运，臭得很",
                        "回收箱装不下了，一直没人来运走"),
    "flooding": ("雨后路上的水没过了膝盖", "大雨过后路面成了一条河", "车子泡在水里熄火了"),
    "smoke_fire": ("闻到一股焦糊味，屋顶上有黑烟", "一家店烧起来了，人都跑出来了",
                   "窗户里往外飘灰色的烟雾"),
    "pothole": ("柏油路面陷下去一块，车轮都卡进去了", "车道中间有一个深洼", "路面碎裂了，车辆都绕着走"),
    "fallen_tree": ("暴风雨后一根粗树干横在车道上", "风把一棵老梧桐刮断了，压在路上",
                    "粗大的树枝挡住了车道"),
    "illegal_parking": ("一辆货车停在人行道上一整天，婴儿车过不去", "有人把车横在斑马线上就走了",
                        "非机动车道上停满了汽车"),
    "road_construction": ("工人在车道上挖了一条沟，也没有标志", "挖掘机和铁皮挡板占了半条路",
                          "一条车道被封起来了，事先没有任何通知"),
    "noise": ("酒吧的低音震得窗户都在响，一直到凌晨两点", "隔壁卡拉OK唱通宵，根本睡不着",
              "跳广场舞的音箱开到最大声，每天晚上都这样"),
    "streetlight_out": ("这一段的灯杆晚上都不亮", "晚上黑漆漆的，照明坏了一个星期",
                        "路边的照明设施坏了，晚上有人摔倒"),
    "illegal_vending": ("每天晚上推车卖东西的占满了人行道", "有人在人行道上用三轮车卖水果",
                        "夜里小吃车把人行道堵住了"),
}  # fmt: skip


def paraphrases(category: str, language: str) -> tuple[str, ...]:
    """Clauses saying a category's problem without its keywords (none for other categories)."""
    table = PARAPHRASES_EN if language == "en" else PARAPHRASES_ZH
    return table.get(category, ())


# Whole tickets. {place} already carries its preposition ("at ...", "near ...").
FRAMES_EN: tuple[str, ...] = (
    "Hello, {clause} {place}. {pii} Please send someone to deal with it.",
    "Reporting a problem: {clause} {place}. It has been like this for a while. {pii}",
    "{pii} I would like to report that {clause} {place}. Thanks.",
    "Hi, {clause} {place}, it is a real nuisance for everyone. {pii}",
    "Please help, {clause} {place}! {pii}",
    "Good morning, just to let you know {clause} {place}. {pii} Hope it gets fixed soon.",
)
FRAMES_ZH: tuple[str, ...] = (
    "你好，{place}{clause}，请尽快处理。{pii}",
    "反映一个问题：{place}{clause}，已经好几个小时了。{pii}",
    "{pii}我要投诉，{place}{clause}，希望有关部门管一管。",
    "{place}{clause}！{pii}麻烦派人来看看。",
    "您好，{place}{clause}，谢谢。{pii}",
)
# Where the reporter gives no place in the text (it is in the address or the app's point).
HERE_EN: tuple[str, ...] = ("here", "right here", "outside my building", "in front of my shop")
HERE_ZH: tuple[str, ...] = ("这里", "我家楼下", "我们店门口")

# Place phrases. {a}/{b} are street names, {l} a landmark, {d} a district.
INTERSECTION_EN: tuple[str, ...] = (
    "at {a} and {b}",
    "at the corner of {a} and {b}",
    "at the junction of {a} and {b}",
    "on {a} near {b}",
    "at {a} / {b}",
)
INTERSECTION_ZH: tuple[str, ...] = ("{a}与{b}交叉口", "{a}和{b}路口", "{a}{b}口")
LANDMARK_EN: tuple[str, ...] = ("near {l}", "outside {l}", "next to {l}", "by {l}")
LANDMARK_ZH: tuple[str, ...] = ("{l}附近", "{l}门口", "{l}旁边")
DISTRICT_EN: tuple[str, ...] = (
    "somewhere in {d} district",
    "in {d} district",
    "around {d} district",
)
DISTRICT_ZH: tuple[str, ...] = ("{d}", "{d}这边", "{d}某处")
ADDRESS_INTERSECTION_EN: tuple[str, ...] = ("{a} & {b}", "{a} / {b}", "corner of {a} and {b}")
ADDRESS_INTERSECTION_ZH: tuple[str, ...] = ("{a}与{b}交叉口", "{a}{b}口")

# Matters outside the taxonomy, with no place: they must end up unclassified and unlocated.
UNRELATED_EN: tuple[str, ...] = (
    "Hello, what are the opening hours of the tax office at the weekend? {pii}",
    "The number 15 bus never keeps to its timetable, I waited forty minutes this morning. {pii}",
    "I lost my dog, a small brown poodle called Lucky. If anyone finds him please call. {pii}",
    "How do I renew my residence permit online? {pii}",
    "My water bill this month is three times higher than usual, can someone check it? {pii}",
    "When does registration for primary school open this year? {pii}",
    "{pii} Can I pay my pension contribution at a bank counter?",
)
UNRELATED_ZH: tuple[str, ...] = (
    "请问税务局周末办公吗？{pii}",
    "15路公交车总是不按时刻表发车，今天早上等了四十分钟。{pii}",
    "我家的小狗走丢了，棕色泰迪，名字叫豆豆，有看到的请联系我。{pii}",
    "社保卡丢了怎么补办？{pii}",
    "这个月水费比平时高了三倍，请帮忙查一下。{pii}",
    "今年小学报名什么时候开始？{pii}",
    "{pii}请问居住证续签需要带什么材料？",
)
