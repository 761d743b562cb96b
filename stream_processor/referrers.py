"""Referrer facts: which hosts and ``utm_source`` values are search, social, video, shopping,
email or AI assistants, and the names they are shown under. Data only; sources.py decides.

- ``GA4_SOURCES``: Google Analytics 4's source-category list, the list behind GA4's default
  channel group (https://support.google.com/analytics/answer/9756891, "source categories"),
  as copied into Plausible's ``priv/ga4-source-categories.csv`` (plausible/analytics) plus
  the three entries of the copy in Velir's dbt-ga4 ``seeds/ga4_source_categories.csv`` that
  Plausible's lacks (``google.com``, ``googlemybusiness``, ``cse.google.com``). Hosts and
  the bare words people put in ``utm_source`` (``baidu``, ``ig``) are both in it.
- ``NAMES``: the name a site is shown under, keyed by its brand label (``pinterest`` for
  ``pinterest.pt``); spellings follow Plausible's (its ``custom_sources.json`` and the
  Snowplow referer list it uses) where it has one, else the site's own.
- ``OURS``: what the list lacks or files in a way we do not follow, each with a reason:
  webmail is Email (GA4 files ``mail.yandex.ru`` under search), AI assistants are their
  own channel (as Plausible does), and sites the list predates (Bluesky, Threads, …).
- ``PAID_SOURCES``: Plausible's paid tags (``fb-ads``, ``adwords``, …): paid whatever the
  medium says.
- ``ANDROID_APPS``: Android package names: a referrer ``android-app://com.google.android.gm``
  reaches sources.py as the host ``com.google.android.gm``.
- ``LIST_SOURCES``: Matomo's search-engine, social-network and AI-assistant list (CC0),
  vendored as data/matomo_referrers.json (see data/README.md), loaded once at import. It
  names hosts GA4's list lacks; GA4's category wins where GA4 has the host (sources.py).
"""

from __future__ import annotations

import json
from pathlib import Path

SEARCH, SOCIAL, VIDEO, SHOPPING = "search", "social", "video", "shopping"
EMAIL, AI = "email", "ai"

_GA4_SEARCH = """
360.cn alice aol ar.search.yahoo.com ask at.search.yahoo.com au.search.yahoo.com auone avg
babylon baidu biglobe biglobe.co.jp biglobe.ne.jp bing br.search.yahoo.com
ca.search.yahoo.com centrum.cz ch.search.yahoo.com cl.search.yahoo.com cn.bing.com cnn
co.search.yahoo.com comcast conduit cse.google.com daum daum.net de.search.yahoo.com
dk.search.yahoo.com dogpile dogpile.com duckduckgo ecosia.org email.seznam.cz eniro
es.search.yahoo.com espanol.search.yahoo.com exalead.com excite.com fi.search.yahoo.com
firmy.cz fr.search.yahoo.com globo go.mail.ru google google-play google.com
googlemybusiness hk.search.yahoo.com id.search.yahoo.com in.search.yahoo.com incredimail
it.search.yahoo.com kvasir lens.google.com lite.qwant.com lycos m.baidu.com m.naver.com
m.search.naver.com m.sogou.com mail.google.com mail.rambler.ru mail.yandex.ru
malaysia.search.yahoo.com msn msn.com mx.search.yahoo.com najdi naver naver.com
news.google.com nl.search.yahoo.com no.search.yahoo.com ntp.msn.com nz.search.yahoo.com
onet onet.pl pe.search.yahoo.com ph.search.yahoo.com pl.search.yahoo.com play.google.com
qwant qwant.com rakuten rakuten.co.jp rambler rambler.ru se.search.yahoo.com search-results
search.aol.co.uk search.aol.com search.google.com search.smt.docomo.ne.jp search.ukr.net
secureurl.ukr.net seznam seznam.cz sg.search.yahoo.com so.com sogou sogou.com
sp-web.search.auone.jp startsiden startsiden.no suche.aol.de terra th.search.yahoo.com
tr.search.yahoo.com tut.by tw.search.yahoo.com uk.search.yahoo.com ukr us.search.yahoo.com
virgilio vn.search.yahoo.com wap.sogou.com webmaster.yandex.ru websearch.rakuten.co.jp
yahoo yahoo.co.jp yahoo.com yandex yandex.by yandex.com yandex.com.tr yandex.fr yandex.kz
yandex.ru yandex.ua yandex.uz zen.yandex.ru
"""
_GA4_SOCIAL = """
43things 43things.com 51.com 5ch.net hatena imageshack academia.edu activerain
activerain.com activeworlds activeworlds.com addthis addthis.com airg.ca allnurses.com
allrecipes.com alumniclass alumniclass.com ameba.jp ameblo.jp americantowns
americantowns.com amp.reddit.com ancestry.com anobii anobii.com answerbag answerbag.com
answers.yahoo.com aolanswers aolanswers.com apps.facebook.com ar.pinterest.com
artstation.com askubuntu askubuntu.com asmallworld.com athlinks athlinks.com away.vk.com
awe.sm b.hatena.ne.jp baby-gaga baby-gaga.com babyblog.ru badoo badoo.com bebo bebo.com
beforeitsnews beforeitsnews.com bharatstudent bharatstudent.com biip.no biswap.org bit.ly
blackcareernetwork.com blackplanet blackplanet.com blip.fm blog.com blog.feedspot.com
blog.goo.ne.jp blog.naver.com blog.yahoo.co.jp blogg.no bloggang.com blogger blogger.com
blogher blogher.com bloglines bloglines.com blogs.com blogsome blogsome.com blogspot
blogspot.com blogster blogster.com blurtit blurtit.com bookmarks.yahoo.co.jp
bookmarks.yahoo.com br.pinterest.com brightkite brightkite.com brizzly brizzly.com
business.facebook.com buzzfeed buzzfeed.com buzznet buzznet.com cafe.naver.com cafemom
cafemom.com camospace camospace.com canalblog.com care.com care2 care2.com
caringbridge.org catster catster.com cbnt.io cellufun cellufun.com centerblog.net
chat.zalo.me chegg.com chicagonow chicagonow.com chiebukuro.yahoo.co.jp classmates
classmates.com classquest classquest.com co.pinterest.com cocolog-nifty cocolog-nifty.com
copainsdavant.linternaute.com couchsurfing.org cozycot cozycot.com cross.tv crunchyroll
crunchyroll.com cyworld cyworld.com cz.pinterest.com d.hatena.ne.jp dailystrength.org
deluxe.com deviantart deviantart.com dianping dianping.com digg digg.com diigo diigo.com
discover.hubpages.com disqus disqus.com dogster dogster.com dol2day dol2day.com doostang
doostang.com dopplr dopplr.com douban douban.com draft.blogger.com draugiem.lv
drugs-forum drugs-forum.com dzone dzone.com edublogs.org elftown elftown.com
epicurious.com everforo.com exblog.jp extole extole.com facebook facebook.com faceparty
faceparty.com fandom.com fanpop fanpop.com fark fark.com fb fb.me fc2 fc2.com feedspot
feministing feministing.com filmaffinity filmaffinity.com flickr flickr.com flipboard
flipboard.com folkdirect folkdirect.com foodservice foodservice.com
forums.androidcentral.com forums.crackberry.com forums.imore.com forums.nexopia.com
forums.webosnation.com forums.wpcentral.com fotki fotki.com fotolog fotolog.com foursquare
foursquare.com free.facebook.com friendfeed friendfeed.com fruehstueckstreff.org fubar
fubar.com gaiaonline gaiaonline.com gamerdna gamerdna.com gather.com geni.com
getpocket.com glassboard glassboard.com glassdoor glassdoor.com godtube godtube.com
goldenline.pl goldstar goldstar.com goo.gl gooblog goodreads goodreads.com google+
googlegroups.com googleplus govloop govloop.com gowalla gowalla.com gree.jp
groups.google.com gulli.com gutefrage.net habbo habbo.com hi5 hi5.com hootsuite
hootsuite.com houzz houzz.com hoverspot hoverspot.com hr.com hu.pinterest.com hubculture
hubculture.com hubpages.com hyves.net hyves.nl ibibo ibibo.com id.pinterest.com identi.ca ig
imageshack.com imageshack.us imvu imvu.com in.pinterest.com insanejournal
insanejournal.com instagram instagram.com instapaper instapaper.com internations.org
interpals.net intherooms intherooms.com irc-galleria.net is.gd italki italki.com
jammerdirect jammerdirect.com jappy.com jappy.de kaboodle.com kakao kakao.com
kakaocorp.com kaneva kaneva.com kin.naver.com l.facebook.com l.instagram.com
l.messenger.com last.fm librarything librarything.com lifestream.aol.com line line.me
linkedin linkedin.com listal listal.com listography listography.com livedoor.com
livedoorblog livejournal livejournal.com lm.facebook.com lnkd.in m.blog.naver.com
m.cafe.naver.com m.facebook.com m.kin.naver.com m.vk.com m.yelp.com mbga.jp medium.com
meetin.org meetup meetup.com meinvz.net meneame.net menuism.com messages.google.com
messages.yahoo.co.jp messenger messenger.com mix.com mixi.jp mobile.facebook.com mocospace
mocospace.com mouthshut mouthshut.com movabletype movabletype.com mubi mubi.com
my.opera.com myanimelist.net myheritage myheritage.com mylife mylife.com mymodernmet
mymodernmet.com myspace myspace.com netvibes netvibes.com news.ycombinator.com
newsshowcase nexopia ngopost.org niconico nicovideo.jp nightlifelink nightlifelink.com
ning ning.com nl.pinterest.com odnoklassniki.ru odnoklassniki.ua okwave.jp old.reddit.com
oneworldgroup.org onstartups onstartups.com opendiary opendiary.com oshiete.goo.ne.jp
out.reddit.com over-blog.com overblog.com paper.li partyflock.nl photobucket
photobucket.com pinboard pinboard.in pingsta pingsta.com pinterest pinterest.at
pinterest.ca pinterest.ch pinterest.cl pinterest.co.kr pinterest.co.uk pinterest.com
pinterest.com.au pinterest.com.mx pinterest.de pinterest.es pinterest.fr pinterest.it
pinterest.jp pinterest.nz pinterest.ph pinterest.pt pinterest.ru pinterest.se pixiv.net
pl.pinterest.com playahead.se plurk plurk.com plus.google.com plus.url.google.com
pocket.co posterous posterous.com pro.homeadvisor.com pulse.yahoo.com qapacity
qapacity.com quechup quechup.com quora quora.com qzone.qq.com ravelry ravelry.com reddit
reddit.com redux redux.com renren renren.com researchgate.net reunion reunion.com
reverbnation reverbnation.com rtl.de ryze ryze.com salespider salespider.com scoop.it
screenrant screenrant.com scribd scribd.com scvngr scvngr.com secondlife secondlife.com
serverfault serverfault.com shareit sharethis sharethis.com shvoong.com sites.google.com
skype skyrock skyrock.com slashdot.org slideshare.net smartnews.com snapchat snapchat.com
social sociallife.com.br socialvibe socialvibe.com spaces.live.com spoke spoke.com spruz
spruz.com ssense.com stackapps stackapps.com stackexchange stackexchange.com stackoverflow
stackoverflow.com stardoll.com stickam stickam.com studivz.net suomi24.fi superuser
superuser.com sweeva sweeva.com t.co t.me tagged tagged.com taggedmail taggedmail.com
talkbiznow talkbiznow.com taringa.net techmeme techmeme.com tencent tencent.com tiktok
tiktok.com tinyurl tinyurl.com toolbox toolbox.com touch.facebook.com tr.pinterest.com
travellerspoint travellerspoint.com tripadvisor tripadvisor.com trombi trombi.com
trustpilot tudou tudou.com tuenti tuenti.com tumblr tumblr.com tweetdeck tweetdeck.com
twitter twitter.com twoo.com typepad typepad.com unblog.fr urbanspoon.com ushareit.com
ushi.cn vampirefreaks vampirefreaks.com vampirerave vampirerave.com vg.no video.ibm.com
vk.com vkontakte.ru wakoopa wakoopa.com wattpad wattpad.com web.facebook.com web.skype.com
webshots webshots.com wechat wechat.com weebly weebly.com weibo weibo.com wer-weiss-was.de
weread weread.com whatsapp whatsapp.com wiki.answers.com wikihow.com wikitravel.org
woot.com wordpress wordpress.com wordpress.org xanga xanga.com xing xing.com yahoo-mbga.jp
yammer yammer.com yelp yelp.co.uk yelp.com youroom.in za.pinterest.com zalo zoo.gr zooppa
zooppa.com
"""
_GA4_VIDEO = """
blog.twitch.tv crackle crackle.com curiositystream curiositystream.com d.tube dailymotion
dailymotion.com dashboard.twitch.tv disneyplus disneyplus.com fast.wistia.net
help.hulu.com help.netflix.com hulu hulu.com id.twitch.tv iq.com iqiyi iqiyi.com
jobs.netflix.com justin.tv m.twitch.tv m.youtube.com music.youtube.com netflix netflix.com
player.twitch.tv player.vimeo.com ted ted.com twitch twitch.tv utreon utreon.com veoh
veoh.com viadeo.journaldunet.com vimeo vimeo.com wistia wistia.com youku youku.com youtube
youtube.com
"""
_GA4_SHOPPING = """
google_shopping igshopping aax-us-east.amazon-adsystem.com aax.amazon-adsystem.com alibaba
alibaba.com amazon amazon.co.uk amazon.com apps.shopify.com checkout.shopify.com
checkout.stripe.com cr.shopping.naver.com cr2.shopping.naver.com ebay ebay.co.uk ebay.com
ebay.com.au ebay.de etsy etsy.com m.alibaba.com m.shopping.naver.com mercadolibre
mercadolibre.com mercadolibre.com.ar mercadolibre.com.mx message.alibaba.com
msearch.shopping.naver.com nl.shopping.net no.shopping.net offer.alibaba.com
one.walmart.com order.shopping.yahoo.co.jp partners.shopify.com s3.amazonaws.com
se.shopping.net shop.app shopify shopify.com shopping.naver.com shopping.yahoo.co.jp
shopping.yahoo.com shopzilla shopzilla.com simplycodes.com store.shopping.yahoo.co.jp
stripe stripe.com uk.shopping.net walmart walmart.com
"""


def _entries(text: str, category: str) -> dict[str, str]:
    # "Google Shopping" is the one entry with a space; it is written google_shopping above
    return {word.replace("_", " "): category for word in text.split()}


#: GA4's list: lower-cased source (host or utm_source word) → category
GA4_SOURCES: dict[str, str] = {
    **_entries(_GA4_SEARCH, SEARCH),
    **_entries(_GA4_SOCIAL, SOCIAL),
    **_entries(_GA4_VIDEO, VIDEO),
    **_entries(_GA4_SHOPPING, SHOPPING),
}

#: host or brand label → shown name (a label missing here is shown capitalised: "Badoo")
NAMES: dict[str, str] = {
    "news.ycombinator.com": "Hacker News",
    "news.google.com": "Google News",
    "play.google.com": "Google Play",
    "groups.google.com": "Google Groups",
    "sites.google.com": "Google Sites",
    "messages.google.com": "Google Messages",
    "plus.google.com": "Google+",
    "plus.url.google.com": "Google+",
    "answers.yahoo.com": "Yahoo! Answers",
    "ntp.msn.com": "Bing",
    "spaces.live.com": "Windows Live Spaces",
    "video.ibm.com": "IBM Video",
    "s3.amazonaws.com": "Amazon",
    "fast.wistia.net": "Wistia",
    "my.opera.com": "My Opera",
    "qzone.qq.com": "Qzone",
    "copainsdavant.linternaute.com": "Copains d'avant",
    "viadeo.journaldunet.com": "Viadeo",
    "wiki.answers.com": "WikiAnswers",
    "pro.homeadvisor.com": "HomeAdvisor",
    "360": "360 Search",
    "43things": "43 Things",
    "5ch": "5channel",
    "aol": "AOL",
    "aolanswers": "AOL Answers",
    "activerain": "ActiveRain",
    "addthis": "AddThis",
    "airg": "airG",
    "alumniclass": "AlumniClass",
    "americantowns": "AmericanTowns",
    "ameba": "Ameba",
    "ameblo": "Ameba",
    "amazon-adsystem": "Amazon",
    "amazonaws": "Amazon",
    "artstation": "ArtStation",
    "askubuntu": "Ask Ubuntu",
    "asmallworld": "ASmallWorld",
    "auone": "au one",
    "avg": "AVG",
    "baby-gaga": "Baby Gaga",
    "bharatstudent": "BharatStudent",
    "bit": "Bitly",
    "blackcareernetwork": "Black Career Network",
    "blackplanet": "BlackPlanet",
    "blip": "Blip.fm",
    "blogher": "BlogHer",
    "buzzfeed": "BuzzFeed",
    "cafemom": "CafeMom",
    "caringbridge": "CaringBridge",
    "cbnt": "CBNT",
    "chicagonow": "ChicagoNow",
    "cnn": "CNN",
    "cocolog-nifty": "Cocolog",
    "couchsurfing": "Couchsurfing",
    "crunchyroll": "Crunchyroll",
    "curiositystream": "CuriosityStream",
    "d": "DTube",
    "dailymotion": "Dailymotion",
    "dailystrength": "DailyStrength",
    "deviantart": "DeviantArt",
    "disneyplus": "Disney+",
    "docomo": "docomo",
    "dol2day": "Dol2day",
    "drugs-forum": "Drugs-Forum",
    "duckduckgo": "DuckDuckGo",
    "dzone": "DZone",
    "ebay": "eBay",
    "edublogs": "Edublogs",
    "fb": "Facebook",
    "fc2": "FC2",
    "feedspot": "Feedspot",
    "filmaffinity": "FilmAffinity",
    "folkdirect": "FolkDirect",
    "foursquare": "Foursquare",
    "friendfeed": "FriendFeed",
    "fruehstueckstreff": "Frühstückstreff",
    "gaiaonline": "Gaia Online",
    "gamerdna": "gamerDNA",
    "getpocket": "Pocket",
    "godtube": "GodTube",
    "goldenline": "GoldenLine",
    "goo": "goo",
    "gooblog": "goo",
    "google+": "Google+",
    "google-play": "Google Play",
    "googlegroups": "Google Groups",
    "googlemybusiness": "Google My Business",
    "googleplus": "Google+",
    "govloop": "GovLoop",
    "hi5": "hi5",
    "homeadvisor": "HomeAdvisor",
    "hubculture": "Hub Culture",
    "hubpages": "HubPages",
    "ibibo": "ibibo",
    "ibm": "IBM Video",
    "identi": "Identi.ca",
    "ig": "Instagram",
    "igshopping": "Instagram",
    "imageshack": "ImageShack",
    "imvu": "IMVU",
    "insanejournal": "InsaneJournal",
    "internations": "InterNations",
    "interpals": "InterPals",
    "intherooms": "InTheRooms",
    "iq": "iQIYI",
    "iqiyi": "iQIYI",
    "irc-galleria": "IRC-Galleria",
    "italki": "italki",
    "jammerdirect": "JammerDirect",
    "journaldunet": "Viadeo",
    "kakaocorp": "Kakao",
    "last": "Last.fm",
    "librarything": "LibraryThing",
    "lifestream": "AOL Lifestream",
    "linkedin": "LinkedIn",
    "linternaute": "Copains d'avant",
    "livedoorblog": "Livedoor",
    "livejournal": "LiveJournal",
    "lnkd": "LinkedIn",
    "mail": "Mail.ru",
    "mbga": "Mobage",
    "meetin": "Meetin",
    "meinvz": "meinVZ",
    "meneame": "Menéame",
    "mercadolibre": "Mercado Libre",
    "mix": "Mix",
    "mocospace": "MocoSpace",
    "mouthshut": "MouthShut",
    "movabletype": "Movable Type",
    "msn": "MSN",
    "mubi": "MUBI",
    "myanimelist": "MyAnimeList",
    "myheritage": "MyHeritage",
    "mylife": "MyLife",
    "mymodernmet": "My Modern Met",
    "myspace": "Myspace",
    "ngopost": "NGO Post",
    "nicovideo": "Niconico",
    "nightlifelink": "NightlifeLink",
    "odnoklassniki": "Odnoklassniki",
    "okwave": "OKWave",
    "oneworldgroup": "OneWorld",
    "onstartups": "OnStartups",
    "opendiary": "Open Diary",
    "over-blog": "Overblog",
    "overblog": "Overblog",
    "paper": "Paper.li",
    "partyflock": "Partyflock",
    "pinboard": "Pinboard",
    "pixiv": "pixiv",
    "plus": "Google+",
    "pocket": "Pocket",
    "qq": "Qzone",
    "researchgate": "ResearchGate",
    "reverbnation": "ReverbNation",
    "rtl": "RTL",
    "salespider": "SaleSpider",
    "scoop": "Scoop.it",
    "screenrant": "Screen Rant",
    "scvngr": "SCVNGR",
    "search-results": "Search Results",
    "secondlife": "Second Life",
    "serverfault": "Server Fault",
    "shareit": "SHAREit",
    "sharethis": "ShareThis",
    "shop": "Shop",
    "simplycodes": "SimplyCodes",
    "slideshare": "SlideShare",
    "smartnews": "SmartNews",
    "so": "360 Search",
    "sociallife": "SocialLife",
    "socialvibe": "SocialVibe",
    "ssense": "SSENSE",
    "stackapps": "Stack Apps",
    "stackexchange": "Stack Exchange",
    "stackoverflow": "Stack Overflow",
    "startsiden": "Startsiden",
    "studivz": "studiVZ",
    "superuser": "Super User",
    "t": "Twitter",
    "taggedmail": "Tagged",
    "talkbiznow": "TalkBizNow",
    "techmeme": "Techmeme",
    "ted": "TED",
    "tiktok": "TikTok",
    "tinyurl": "TinyURL",
    "travellerspoint": "Travellerspoint",
    "tripadvisor": "Tripadvisor",
    "tut": "TUT.BY",
    "tweetdeck": "TweetDeck",
    "twoo": "Twoo",
    "typepad": "TypePad",
    "ukr": "UKR.NET",
    "unblog": "Unblog",
    "urbanspoon": "Urbanspoon",
    "ushareit": "SHAREit",
    "ushi": "Ushi",
    "vampirefreaks": "VampireFreaks",
    "vampirerave": "VampireRave",
    "vg": "VG",
    "vk": "VKontakte",
    "vkontakte": "VKontakte",
    "wechat": "WeChat",
    "wer-weiss-was": "wer-weiss-was",
    "whatsapp": "WhatsApp",
    "wikihow": "wikiHow",
    "wikitravel": "Wikitravel",
    "wordpress": "WordPress",
    "xing": "XING",
    "gmx": "GMX",
    "ionos": "IONOS",
    "bigpond": "BigPond",
    "yahoo": "Yahoo!",
    "yahoo-mbga": "Yahoo! Mobage",
    "yandex": "Yandex",
    "youku": "Youku",
    "youroom": "youRoom",
    "youtube": "YouTube",
    "zalo": "Zalo",
    "zoo": "Zoo.gr",
}

#: hosts and words the GA4 list lacks or that we file differently: → (name, category, why)
OURS: dict[str, tuple[str, str | None, str]] = {
    # webmail: GA4 files some under search; a link clicked in a mail is Email
    "mail.google.com": ("Gmail", EMAIL, "webmail"),
    "inbox.google.com": ("Gmail", EMAIL, "webmail"),
    "gmail": ("Gmail", EMAIL, "Plausible's name for Gmail"),
    "mail.yandex.ru": ("Yandex Mail", EMAIL, "webmail"),
    "mail.yandex.com": ("Yandex Mail", EMAIL, "webmail"),
    "mail.rambler.ru": ("Rambler Mail", EMAIL, "webmail"),
    "email.seznam.cz": ("Seznam Email", EMAIL, "webmail"),
    "e.mail.ru": ("Mail.ru", EMAIL, "webmail"),
    "mail.yahoo.com": ("Yahoo! Mail", EMAIL, "webmail"),
    "mail.yahoo.co.jp": ("Yahoo! Mail", EMAIL, "webmail"),
    "mail.aol.com": ("AOL Mail", EMAIL, "webmail"),
    "outlook.live.com": ("Outlook", EMAIL, "webmail"),
    "outlook.office.com": ("Outlook", EMAIL, "webmail"),
    "outlook.office365.com": ("Outlook", EMAIL, "webmail"),
    "mail.proton.me": ("Proton Mail", EMAIL, "webmail"),
    "mail.zoho.com": ("Zoho Mail", EMAIL, "webmail"),
    "app.fastmail.com": ("Fastmail", EMAIL, "webmail"),
    "mail.qq.com": ("QQ Mail", EMAIL, "webmail"),
    "mail.naver.com": ("Naver Mail", EMAIL, "webmail"),
    "web.de": ("WEB.DE", EMAIL, "webmail portal"),
    "post.ru": ("Beeline Mail", EMAIL, "Beeline's webmail (Snowplow files it as email)"),
    "gmx.net": ("GMX", EMAIL, "webmail portal"),
    "gmx.de": ("GMX", EMAIL, "webmail portal"),
    "newsletter": ("Newsletter", EMAIL, "the usual utm_source of a newsletter"),
    # AI assistants: their own channel, as Plausible does
    "chatgpt.com": ("ChatGPT", AI, "AI assistant"),
    "chat.openai.com": ("ChatGPT", AI, "AI assistant"),
    "chatgpt": ("ChatGPT", AI, "AI assistant"),
    "openai": ("ChatGPT", AI, "AI assistant"),
    "perplexity.ai": ("Perplexity", AI, "AI assistant"),
    "perplexity": ("Perplexity", AI, "AI assistant"),
    "claude.ai": ("Claude", AI, "AI assistant"),
    "claude": ("Claude", AI, "AI assistant"),
    "gemini.google.com": ("Gemini", AI, "AI assistant"),
    "bard.google.com": ("Gemini", AI, "AI assistant"),
    "gemini": ("Gemini", AI, "AI assistant"),
    "google gemini": ("Gemini", AI, "AI assistant"),
    "copilot.microsoft.com": ("Microsoft Copilot", AI, "AI assistant"),
    "copilot": ("Microsoft Copilot", AI, "AI assistant"),
    "you.com": ("You.com", AI, "AI assistant"),
    "phind.com": ("Phind", AI, "AI assistant"),
    "phind": ("Phind", AI, "AI assistant"),
    "chat.deepseek.com": ("DeepSeek", AI, "AI assistant"),
    "deepseek": ("DeepSeek", AI, "AI assistant"),
    "chat.mistral.ai": ("Mistral Le Chat", AI, "AI assistant"),
    "meta.ai": ("Meta AI", AI, "AI assistant"),
    "grok.com": ("Grok", AI, "AI assistant"),
    "grok": ("Grok", AI, "AI assistant"),
    "poe.com": ("Poe", AI, "AI assistant"),
    "character.ai": ("Character.AI", AI, "AI assistant"),
    "kimi.com": ("Kimi", AI, "AI assistant"),
    "chat.qwen.ai": ("Qwen", AI, "AI assistant"),
    # search engines the list predates or spells differently
    "bing.com": ("Bing", SEARCH, "the list has only the word bing and cn.bing.com"),
    "duckduckgo.com": ("DuckDuckGo", SEARCH, "the list has only the word"),
    "baidu.com": ("Baidu", SEARCH, "the list has only the word and m.baidu.com"),
    "search.brave.com": ("Brave", SEARCH, "Plausible's custom source"),
    "brave": ("Brave", SEARCH, "Plausible's custom source"),
    "ecosia": ("Ecosia", SEARCH, "Plausible's custom source"),
    "startpage.com": ("Startpage", SEARCH, "privacy search engine"),
    "kagi.com": ("Kagi", SEARCH, "search engine"),
    "ya.ru": ("Yandex", SEARCH, "Yandex's short domain (Plausible)"),
    "yandex.eu": ("Yandex", SEARCH, "Plausible's custom source"),
    "yandex.tm": ("Yandex", SEARCH, "Plausible's custom source"),
    "search.yahoo.com": ("Yahoo!", SEARCH, "Yahoo! search without a country"),
    "yahoo!": ("Yahoo!", SEARCH, "Plausible's name"),
    "sogou": ("Sogou", SEARCH, "Plausible's custom source"),
    "presearch.com": ("Presearch", SEARCH, "search engine"),
    "mojeek.com": ("Mojeek", SEARCH, "search engine"),
    "swisscows.com": ("Swisscows", SEARCH, "search engine"),
    "metager.de": ("MetaGer", SEARCH, "search engine"),
    "yep.com": ("Yep", SEARCH, "search engine"),
    "search.naver.com": ("Naver", SEARCH, "Naver's search host"),
    # social and community sites the list predates
    "x.com": ("Twitter", SOCIAL, "Twitter's new domain"),
    "ok.ru": ("Odnoklassniki", SOCIAL, "Odnoklassniki's short domain (Matomo lists the long)"),
    "teams.microsoft.com": ("Microsoft Teams", SOCIAL, "messaging, as Plausible files Teams"),
    "teams.live.com": ("Microsoft Teams", SOCIAL, "Teams for personal accounts"),
    "substack.com": ("Substack", SOCIAL, "newsletter network, social as Plausible files it"),
    "x": ("Twitter", SOCIAL, "utm_source=x"),
    "x (twitter)": ("Twitter", SOCIAL, "Plausible's custom category"),
    "bsky.app": ("Bluesky", SOCIAL, "social network"),
    "bluesky": ("Bluesky", SOCIAL, "Plausible's custom category"),
    "mastodon.social": ("Mastodon", SOCIAL, "the largest Mastodon server"),
    "mastodon": ("Mastodon", SOCIAL, "Plausible's custom category"),
    "threads.net": ("Threads", SOCIAL, "social network"),
    "threads.com": ("Threads", SOCIAL, "social network"),
    "threads": ("Threads", SOCIAL, "Plausible's custom category"),
    "lobste.rs": ("Lobsters", SOCIAL, "community site"),
    "hacker news": ("Hacker News", SOCIAL, "Plausible's custom category"),
    "hackernews": ("Hacker News", SOCIAL, "common utm_source"),
    "hn": ("Hacker News", SOCIAL, "common utm_source"),
    "discord.com": ("Discord", SOCIAL, "Plausible's custom source"),
    "discordapp.com": ("Discord", SOCIAL, "Plausible's custom source"),
    "discord": ("Discord", SOCIAL, "Plausible's custom category"),
    "slack.com": ("Slack", SOCIAL, "Plausible's custom category"),
    "slack": ("Slack", SOCIAL, "Plausible's custom category"),
    "telegram": ("Telegram", SOCIAL, "Plausible's custom category"),
    "telegram.org": ("Telegram", SOCIAL, "messenger"),
    "web.whatsapp.com": ("WhatsApp", SOCIAL, "messenger"),
    "statics.teams.cdn.office.net": ("Microsoft Teams", SOCIAL, "Plausible's custom source"),
    "microsoft teams": ("Microsoft Teams", SOCIAL, "Plausible's custom category"),
    "github.com": ("GitHub", SOCIAL, "Plausible's custom category"),
    "github": ("GitHub", SOCIAL, "Plausible's custom category"),
    "producthunt.com": ("Product Hunt", SOCIAL, "Plausible's custom category"),
    "producthunt": ("Product Hunt", SOCIAL, "Plausible's custom category"),
    "steamcommunity.com": ("Steam", SOCIAL, "Plausible's custom category"),
    "dev.to": ("DEV", SOCIAL, "community site"),
    "linktr.ee": ("Linktree", SOCIAL, "Plausible's custom source"),
    "linktree": ("Linktree", SOCIAL, "Plausible's custom source"),
    "vkontakte": ("VKontakte", SOCIAL, "Plausible's custom category"),
    "tik.tok": ("TikTok", SOCIAL, "Plausible's custom source"),
    "fcb": ("Facebook", SOCIAL, "Plausible's custom source"),
    "instagram.com": ("Instagram", SOCIAL, "named Instagram, not Facebook"),
    "messenger.com": ("Messenger", SOCIAL, "Facebook Messenger"),
    "wikipedia.org": ("Wikipedia", None, "Plausible names all Wikipedia hosts Wikipedia"),
    "android-app://com.reddit.frontpage": ("Reddit", SOCIAL, "Plausible's custom source"),
    # video
    "youtu.be": ("YouTube", VIDEO, "YouTube's short links"),
    "yt": ("YouTube", VIDEO, "Plausible's custom source"),
    "twitch.tv": ("Twitch", VIDEO, "listed, named here"),
    # shopping
    "temu.com": ("Temu", SHOPPING, "Plausible's custom category"),
    "shopping.google.com": ("Google Shopping", SHOPPING, "Google's shopping tab"),
    "aliexpress.com": ("AliExpress", SHOPPING, "marketplace"),
}

# hosts below a search engine's domain that are not its search: a link from there is a
# Referral from that product, never Organic Search (GA4's list names them one by one too)
NOT_SEARCH: dict[str, str] = {
    "maps.google.com": "Google Maps",
    "drive.google.com": "Google Drive",
    "docs.google.com": "Google Docs",
    "calendar.google.com": "Google Calendar",
    "translate.google.com": "Google Translate",
    "classroom.google.com": "Google Classroom",
    "meet.google.com": "Google Meet",
    "photos.google.com": "Google Photos",
    "support.google.com": "Google Support",
    "developers.google.com": "Google Developers",
    "scholar.google.com": "Google Scholar",
    "books.google.com": "Google Books",
    "chat.google.com": "Google Chat",
    "keep.google.com": "Google Keep",
    "accounts.google.com": "Google Accounts",
    "analytics.google.com": "Google Analytics",
    "ads.google.com": "Google Ads",
    "news.yahoo.com": "Yahoo! News",
    "finance.yahoo.com": "Yahoo! Finance",
    "sports.yahoo.com": "Yahoo! Sports",
    "weather.yahoo.com": "Yahoo! Weather",
    "music.yandex.ru": "Yandex Music",
    "market.yandex.ru": "Yandex Market",
    "disk.yandex.ru": "Yandex Disk",
    "translate.yandex.ru": "Yandex Translate",
    "tieba.baidu.com": "Baidu Tieba",
    "baike.baidu.com": "Baidu Baike",
    "pan.baidu.com": "Baidu Netdisk",
}

#: utm_source values that mean paid traffic whatever the medium (Plausible: custom sources
#: ending in "ads"/"ad", plus "adwords") → (name, category)
PAID_SOURCES: dict[str, tuple[str, str]] = {
    "fb-ads": ("Facebook", SOCIAL),
    "fbads": ("Facebook", SOCIAL),
    "fbad": ("Facebook", SOCIAL),
    "facebook-ads": ("Facebook", SOCIAL),
    "facebook_ads": ("Facebook", SOCIAL),
    "facebook_ad": ("Facebook", SOCIAL),
    "facebook_feed_ad": ("Facebook", SOCIAL),
    "yt-ads": ("YouTube", VIDEO),
    "reddit-ads": ("Reddit", SOCIAL),
    "google_ads": ("Google", SEARCH),
    "google-ads": ("Google", SEARCH),
    "googleads": ("Google", SEARCH),
    "gads": ("Google", SEARCH),
    "google ads": ("Google", SEARCH),
    "adwords": ("Google", SEARCH),
    "twitter-ads": ("Twitter", SOCIAL),
    "tiktokads": ("TikTok", SOCIAL),
}

#: Android package (the host of an ``android-app://`` referrer) → (name, category)
ANDROID_APPS: dict[str, tuple[str, str | None]] = {
    "com.google.android.gm": ("Gmail", EMAIL),
    "com.google.android.gm.lite": ("Gmail", EMAIL),
    "com.microsoft.office.outlook": ("Outlook", EMAIL),
    "com.yahoo.mobile.client.android.mail": ("Yahoo! Mail", EMAIL),
    "ru.mail.mailapp": ("Mail.ru", EMAIL),
    "com.google.android.googlequicksearchbox": ("Google", SEARCH),
    "com.google.android.apps.searchlite": ("Google", SEARCH),
    "com.duckduckgo.mobile.android": ("DuckDuckGo", SEARCH),
    "com.microsoft.bing": ("Bing", SEARCH),
    "ru.yandex.searchplugin": ("Yandex", SEARCH),
    "com.linkedin.android": ("LinkedIn", SOCIAL),
    "org.telegram.messenger": ("Telegram", SOCIAL),
    "org.telegram.messenger.web": ("Telegram", SOCIAL),
    "org.thunderdog.challegram": ("Telegram", SOCIAL),
    "com.slack": ("Slack", SOCIAL),
    "com.facebook.katana": ("Facebook", SOCIAL),
    "com.facebook.lite": ("Facebook", SOCIAL),
    "com.facebook.orca": ("Messenger", SOCIAL),
    "com.instagram.android": ("Instagram", SOCIAL),
    "com.twitter.android": ("Twitter", SOCIAL),
    "com.reddit.frontpage": ("Reddit", SOCIAL),
    "com.pinterest": ("Pinterest", SOCIAL),
    "com.whatsapp": ("WhatsApp", SOCIAL),
    "com.discord": ("Discord", SOCIAL),
    "com.vkontakte.android": ("VKontakte", SOCIAL),
    "ru.ok.android": ("Odnoklassniki", SOCIAL),
    "com.microsoft.teams": ("Microsoft Teams", SOCIAL),
    "com.zhiliaoapp.musically": ("TikTok", SOCIAL),
    "jp.naver.line.android": ("LINE", SOCIAL),
    "com.google.android.youtube": ("YouTube", VIDEO),
    "com.google.android.apps.magazines": ("Google News", SEARCH),
}

_DATA = Path(__file__).resolve().parent / "data"

#: categories of Matomo's files → ours
_LIST_CATEGORY = {"search": SEARCH, "social": SOCIAL, "ai": AI}

#: Matomo files these under search engines; a link from them is a product, not a search
LIST_NOT_SEARCH = frozenset({"Google Maps", "Google Scholar", "Google Translations"})


def _load_list(path: Path) -> dict[str, tuple[str, str | None]]:
    """Matomo's hosts → (name, category), read once at import (a 26 KB JSON file)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    table: dict[str, tuple[str, str | None]] = {}
    for key, category in _LIST_CATEGORY.items():
        for host, name in raw[key].items():
            table.setdefault(host, (name, None if name in LIST_NOT_SEARCH else category))
    return table


#: Matomo's list: host (``{}`` for a country label or TLD) → (name, category)
LIST_SOURCES: dict[str, tuple[str, str | None]] = _load_list(_DATA / "matomo_referrers.json")
