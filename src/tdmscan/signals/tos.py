# ruff: noqa: E501  (cue lexicons: one language per line reads better than wrapped)
"""Natural-language reservations in a site's terms of use.

A rights holder may reserve text and data mining "in an appropriate manner" (DSM Directive
(EU) 2019/790 Art. 4(3)); recital 18 names "terms and conditions of a website". Whether such a
plain-language clause is *machine-readable* enough is disputed in court, so what this module
finds is evidence of a declared reservation, never a settled one.

Two kinds of clause are reported:

* ``tdm-reserved``: the clause reserves or prohibits text and data mining, AI or
  machine-learning training, or building data sets from the content;
* ``scraping-prohibited``: the clause prohibits robots, crawlers, scraping or other automated
  access without naming mining or AI (a contract term, not a copyright reservation).

The detector is a set of cue lexicons per language (the statutory wording of each national
transposition of Art. 4(3) plus the usual contract phrasing), applied per sentence: a clause
counts only when a *subject* cue (mining, AI training, data sets, scraping) and a *restriction*
cue (prohibited, reserved, without consent, opposes ...) sit close together, and no closer
*permission* cue, negated reservation or privacy context says otherwise. Everything runs on
bounded regular expressions over sentences of bounded length, so the cost is linear in the
input; comments, scripts and styles never reach the matcher.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from .html import _cut_deep_nesting, _decode

__all__ = [
    "DETECTOR_VERSION",
    "TERMS_MAX_BYTES",
    "TermsClause",
    "TermsPage",
    "classify_clause",
    "parse_terms",
]

DETECTOR_VERSION = "tos-cues/1"
TERMS_MAX_BYTES = 1024 * 1024
#: Longer "sentences" (minified text, tables flattened into one line) are cut into windows of
#: this many characters so every regex runs on bounded input.
MAX_SEGMENT = 1500
MAX_CLAUSE_CHARS = 1000
#: Subject and restriction cues further apart than this are not read as one clause.
NEAR = 240
#: An AI word and a training word further apart than this do not make "AI training".
TRAIN_NEAR = 90

_SKIP_TAGS = ["script", "style", "noscript", "template", "svg", "math", "iframe", "object"]
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "tr", "td", "th", "section", "article", "header", "footer", "aside", "nav",
        "blockquote", "pre", "br", "hr", "main", "form", "fieldset", "legend", "figure",
        "figcaption", "details", "summary", "address", "caption", "body",
    }
)  # fmt: skip


def _fold(text: str) -> str:
    """Case- and accent-insensitive form used by every cue (patterns are folded the same way)."""
    text = text.casefold().replace("\u2019", "'").replace("\u00ad", "")
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


_PARTS: dict[int, list[str]] = {}


def _rx(parts: Iterable[str]) -> re.Pattern[str]:
    folded = [_fold(p) for p in parts]
    rx = re.compile("|".join(f"(?:{p})" for p in folded))
    _PARTS[id(rx)] = folded
    return rx


# --------------------------------------------------------------------------- cue lexicons
# Written in natural spelling and folded at import time. Gaps are bounded ({0,N}) so no
# pattern can backtrack beyond a window.

_TDM = _rx(
    [
        # statute and directive references that only occur around the TDM exception
        r"art(?:icle|ikel|\.|ículo|icolo|igo)?\s*4\s*\(?\s*3\s*\)?\s*(?:of|de|der|del|da|van)?\s*"
        r"(?:the\s+)?(?:dsm|directive|richtlinie|directiva|direttiva|richtlijn|dyrektywy|diretiva)",
        r"§\s*44\s*b", r"44\s*b\s*urhg", r"l\.?\s*122-5-3", r"70[- ]?ter", r"15o\s+(?:van\s+de\s+)?auteurswet",
        r"art\.?\s*26\s*\^?\s*3",
        # en
        r"text(?:-|\s)+(?:and|&)(?:-|\s)+data(?:-|\s)+mining", r"\btdm\b", r"\bdata[- ]?mining",
        r"\btext[- ]mining",
        # de
        r"text-?\s*und\s*data-?\s*mining", r"text-\s*und\s*datamining",
        # fr
        r"fouilles?\s+de\s+(?:textes?|donnees)",
        # es / pt
        r"miner[ií]a\s+de\s+(?:textos|datos)", r"mineração\s+de\s+(?:textos|dados)",
        r"prospe(?:c)?ção\s+de\s+textos", r"prospe(?:c)?ção\s+de\s+dados",
        # it
        r"estrazione\s+di\s+test[oi]\s+e\s+(?:di\s+)?dati",
        # nl
        r"tekst-\s*en\s*datamining", r"\bdatamining",
        # pl
        r"eksploracj\w{0,3}\s+tekst\w{0,3}\s+i\s+danych",
        # sv, da, no
        r"text-\s*och\s*datautvinning", r"datautvinning", r"tekst-\s*og\s*data(?:mining|udvinding)",
        r"tekst-\s*og\s*datautvinning",
        # fi
        r"tekstin-\s*ja\s*tiedonlouhin", r"tiedonlouhin",
        # cs, sk
        r"vytěžování\s+textů\s+a\s+dat", r"vytěžování\s+dat", r"vyťažovani\w{0,3}\s+text\w{0,3}\s+a\s+údajov",
        # ro
        r"extrager\w{0,3}\s+de\s+text\s+și\s+(?:de\s+)?date", r"minerit\w{0,3}\s+(?:de\s+)?text",
        # el
        r"εξόρυξη?\w{0,2}\s+κειμένου", r"εξόρυξη?\w{0,2}\s+δεδομένων",
        # hu
        r"szöveg-\s*és\s*adatbányászat", r"adatbányászat",
        # sl, hr, bg, lt, lv, et
        r"rudarjenj\w{0,2}\s+besedil", r"podatkovn\w{0,3}\s+rudarjenj", r"rudarenj\w{0,2}\s+teksta",
        r"извличане\s+на\s+(?:информация\s+от\s+)?текст", r"teksto\s+ir\s+duomenų\s+gavyb",
        r"teksta\s+un\s+datu\s+izrac", r"teksti-\s*ja\s*andmekaeve", r"andmekaeve",
    ]
)  # fmt: skip

#: Words that make "training" mean machine training when an AI word is near.
_TRAIN = _rx(
    [
        r"\btrain(?:s|ed|ing)?\b", r"fine-?tun", r"\bdevelop(?:ing|ment)?\b", r"\bimprov(?:e|ing)\b",
        r"\btrainier", r"\btraining", r"\bentra[iî]n", r"\bentren", r"\baddestr", r"\btrainen\b",
        r"\btrenow", r"\btrening", r"\btrein", r"\btreino", r"\bträn", r"\btræn", r"\bkoulut",
        r"\btrénov", r"\btrenink", r"\bantren", r"εκπαίδευ", r"\btanít", r"\bučenj", r"\bobučav",
        r"\bingest", r"\bfeed(?:ing)?\b",
    ]
)  # fmt: skip

_AI = _rx(
    [
        r"\bai\b", r"\ba\.i\.", r"artificial\s+intelligence", r"\bki\b", r"künstliche\w{0,2}\s+intelligenz",
        r"\bia\b", r"intelligence\s+artificielle", r"inteligencia\s+artificial",
        r"intelligenza\s+artificiale", r"kunstmatige\s+intelligentie", r"sztuczn\w{0,3}\s+inteligencj",
        r"inteligência\s+artificial", r"artificiell\w?\s+intelligens", r"kunstig\s+intelligens",
        r"tekoäly", r"uměl\w{0,3}\s+inteligenc", r"inteligenț\w{0,2}\s+artificial", r"τεχνητ\w{0,3}\s+νοημοσύν",
        r"mesterséges\s+intelligenci", r"umetn\w{0,3}\s+inteligenc", r"umjetn\w{0,3}\s+inteligencij",
        r"\bmodel(?:s|le|len|o|os|i|e|u|y)?\b", r"\bllms?\b", r"neural",
    ]
)  # fmt: skip

#: Subjects that are about machine learning by themselves.
_ML = _rx(
    [
        r"machine[- ]learning", r"large\s+language\s+models?", r"\bllms?\b", r"generative\s+ai",
        r"training\s+data", r"\bdata\s*sets?\b", r"\bdatasets?\b", r"\bcorpora\b",
        r"maschinell\w{0,3}\s+lern", r"\bki-\w{2,12}", r"trainingsdaten", r"datensätze?n?\b",
        r"sprachmodell", r"generative\w?\s+ki\b",
        r"apprentissage\s+(?:automatique|machine|profond)", r"jeux?\s+de\s+données",
        r"données\s+d'entraînement", r"\bia\s+générative",
        r"aprendizaje\s+(?:automático|profundo)", r"conjuntos?\s+de\s+datos", r"datos\s+de\s+entrenamiento",
        r"\bia\s+generativa", r"apprendimento\s+automatico", r"set\s+di\s+dati", r"dati\s+di\s+addestramento",
        r"trainingsdata", r"generatieve\s+ai", r"uczeni\w{0,2}\s+maszynow", r"zbior\w{0,3}\s+danych",
        r"zbiór\s+danych", r"dan\w{0,3}\s+treningow", r"aprendizagem\s+automática",
        r"aprendizado\s+de\s+máquina", r"conjuntos?\s+de\s+dados", r"dados\s+de\s+tre(?:ino|inamento)",
        r"maskininlärning", r"maskinlæring", r"koneoppim", r"strojov\w{0,2}\s+učen",
        r"învățare\w{0,2}\s+automat", r"μηχανικ\w{0,2}\s+μάθηση", r"gépi\s+tanul",
    ]
)  # fmt: skip

_SCRAPE = _rx(
    [
        r"\bscrap(?:e|es|ed|ing|er|ers|en|ping)\b", r"\bscraping", r"\bcrawl(?:s|ed|ing|er|ers|en)?\b",
        r"\bcrawlern?\b", r"\bspid(?:er|ers|ern)\b", r"\brobots?\b(?!\.txt)", r"\brobôs?\b", r"\bbots?\b",
        r"\b(?:bot|robot|crawler|scraper)(?:ów|y|ami|om)\b",
        r"\bharvest(?:s|ed|ing|er)?\b", r"screen[- ]scrap",
        r"automated\s+(?:means|tools?|systems?|scripts?|programs?|software|quer(?:y|ies)|access|devices?|"
        r"methods?|technolog\w{0,4}|retrieval|collection|extraction|processes|agents?)",
        r"automatisiert\w{0,3}\s+(?:verfahren|abruf\w{0,3}|abfragen|programm\w{0,3}|mittel\w?|systeme?n?|"
        r"tools?|werkzeug\w{0,3}|zugriff\w{0,3}|auslesen|software|skripte?n?|erfass\w{0,4}|herunterlad\w{0,3})",
        r"das\s+automatisierte\s+\w{3,15}",
        r"moyens?\s+automatisés?", r"logiciels?\s+d'aspiration", r"\baspiration\b", r"extraction\s+automatisée",
        r"outils?\s+automatisés?",
        r"medios?\s+automatizados?", r"arañas", r"rastreador(?:es)?", r"herramientas?\s+automatizadas?",
        r"extracción\s+(?:masiva|automatizada)",
        r"strumenti\s+automatizzati", r"mezzi\s+automatizzati", r"sistemi\s+automatizzati",
        r"geautomatiseerde\s+(?:middelen|systemen|programma's|tools|wijze|software)",
        r"zautomatyzowan\w{0,3}", r"pająk\w{0,3}", r"automatyczn\w{0,3}\s+pobierani\w{0,2}",
        r"meios\s+automatizados", r"raspagem", r"ferramentas\s+automatizadas",
    ]
)  # fmt: skip

#: Prohibitions (a restriction by themselves).
_PROHIBIT = _rx(
    [
        # en
        r"prohibit", r"forbid", r"forbidden", r"\bnot\s+(?:be\s+)?(?:permitted|allowed|authori[sz]ed)",
        r"\b(?:may|must|shall|will|can)\s*not\b", r"\bcannot\b", r"\b(?:mayn't|mustn't|shan't|won't)\b",
        r"\bagree\s+not\s+to\b", r"\bundertake\s+not\s+to\b", r"\bnot\s+entitled\b",
        r"without\s+(?:the\s+|our\s+|its\s+|their\s+)?(?:prior\s+|express\s+|explicit\s+|written\s+){0,3}"
        r"(?:consent|permission|authori[sz]ation|approval|licen[cs]e)",
        r"\bexcluded\s+from\b", r"\bno\s+(?:licen[cs]e|right)\s+(?:is|are)\s+granted",
        r"\bis\s+not\s+licensed\b", r"\bno\s+(?:part|portion)\s+of\b.{0,60}?\bmay\b",
        # de
        r"untersagt", r"verboten", r"\bnicht\s+(?:gestattet|erlaubt|zulässig)", r"unzulässig",
        r"\bdarf\s+nicht", r"\bdürfen\s+nicht", r"\bnicht\s+berechtigt",
        r"ohne\s+(?:unsere\s+|die\s+|deren\s+)?(?:vorherige\s+|ausdrückliche\s+|schriftliche\s+){0,3}"
        r"(?:zustimmung|genehmigung|einwilligung|erlaubnis)",
        r"\bausgeschlossen",
        r"\bnur\s+mit\s+(?:unserer\s+|der\s+|vorheriger\s+)?(?:vorherigen\s+|ausdrücklichen\s+|schriftlichen\s+){0,3}"
        r"(?:zustimmung|genehmigung|einwilligung|erlaubnis)",
        r"\bonly\s+with\s+(?:our\s+|the\s+)?(?:prior\s+|express\s+|written\s+){0,3}(?:consent|permission|authori[sz]ation)",
        # fr
        r"\binterdit", r"\bprohib", r"n'est\s+pas\s+(?:autorisée?|permise?)", r"ne\s+sont\s+pas\s+(?:autorisé|permis)",
        r"\bne\s+(?:peut|peuvent|doit|doivent)\s+pas", r"\bà\s+ne\s+pas\b",
        r"sans\s+(?:l'|son\s+|leur\s+|notre\s+)?(?:accord|autorisation|consentement)",
        # es
        r"prohibid[oa]s?", r"\bno\s+(?:está|están)\s+permitid", r"\bno\s+se\s+permite", r"\bno\s+(?:podrá|podrán|puede|pueden)\b",
        r"sin\s+(?:el\s+|la\s+|su\s+|nuestro\s+|nuestra\s+)?(?:previ[oa]\s+)?(?:autorización|consentimiento|permiso)",
        r"\bse\s+compromete\s+a\s+no\b",
        # it
        r"\bvietat", r"\bproibit", r"\bnon\s+(?:è|sono)\s+(?:consentit|permess|autorizzat)",
        r"\bnon\s+(?:può|possono)\b", r"\bsi\s+impegna\s+a\s+non\b",
        r"senza\s+(?:il\s+|l'|la\s+)?(?:previo\s+|preventivo\s+|preventiva\s+)?(?:consenso|autorizzazione|permesso)",
        # nl
        r"\bverboden\b", r"\bniet\s+toegestaan", r"\b(?:mag|mogen)\s+niet\b",
        r"zonder\s+(?:onze\s+)?(?:voorafgaande\s+)?(?:uitdrukkelijke\s+)?(?:schriftelijke\s+)?(?:toestemming|goedkeuring)",
        # pl
        r"zabronion", r"zakazan", r"niedozwolon", r"zabrania\s+się", r"\bnie\s+(?:może|mogą|wolno)\b",
        r"bez\s+(?:uprzedniej\s+)?(?:pisemnej\s+)?(?:wyraźnej\s+)?zgody",
        # pt
        r"proibid[oa]s?", r"\bnão\s+(?:é|são)\s+(?:permitid|autorizad)", r"\bnão\s+(?:pode|podem)\b",
        r"sem\s+(?:a\s+|o\s+)?(?:prévia\s+|prévio\s+)?(?:autorização|consentimento)", r"\bvedad[oa]",
        # sv, da, no, fi, cs, sk, ro, el, hu, sl, hr, bg, lt, lv, et
        r"förbjud", r"\bej\s+tillåt", r"\binte\s+tillåt", r"\bforbud", r"\bikke\s+tilladt", r"\bikke\s+tillatt",
        r"\bkielle", r"\bkiellet", r"\bkieltä", r"zakáza", r"zakazuj", r"není\s+dovolen", r"nie\s+je\s+dovolen",
        r"\binterzis", r"\bnu\s+este\s+permis", r"απαγορε", r"\btilos\b", r"megtilt", r"\bprepoved",
        r"zabranjen", r"забран", r"draudžiam", r"aizliegt", r"\bkeelatud",
    ]
)  # fmt: skip

#: Reservation and opt-out wording (a restriction on mining; never enough for scraping).
_RESERVE = _rx(
    [
        r"\breserv(?:e|es|ed|ing|ation)\b", r"\bopt(?:s|ed)?[- ]?out\b", r"\bobject(?:s|ed)?\s+to\b",
        r"vorbehalt", r"vorbehält", r"\bbehält\s+sich\b", r"\bbehalten\s+(?:uns|sich)\b",
        r"widersprech", r"widerspricht", r"widerspruch",
        r"\bse\s+réserve", r"\bréserv(?:e|ent|és?|ées?)\b", r"s'oppose", r"\bopposition\b",
        r"\bse\s+reserva", r"\breserva(?:mos|n)?\b", r"\bse\s+opone", r"\boposición\b",
        r"\bsi\s+riserva", r"\briserva(?:to|ta|ti|te|no)?\b", r"\bsi\s+oppone", r"\bopposizione\b",
        r"voorbehoud", r"behoudt\s+zich", r"behouden\s+zich", r"bezwaar\s+tegen", r"maakt\s+bezwaar",
        r"zastrzega", r"zastrzeżeni", r"zastrzeżon", r"sprzeciw",
        r"reserva-se", r"\bopõe-se", r"\boposição\b",
        r"förbehåll", r"forbeholde?r?", r"forbehold", r"pidättä", r"pidätet", r"vyhrazuj", r"výhrad",
        r"vyhradzuj", r"rezerv[aă]", r"\brezervă", r"επιφυλάσσ", r"επιφύλαξ", r"fenntart",
        r"pridržuj", r"zadržava", r"запазва", r"pasilieka", r"\bpatur\b", r"jätab\s+endale",
    ]
)  # fmt: skip

_PERMIT = _rx(
    [
        r"\b(?:is|are)\s+(?:expressly\s+)?(?:permitted|allowed|authori[sz]ed|welcome)",
        r"\bmay\s+(?:freely\s+)?(?:carry\s+out|use|perform|conduct|mine)\b", r"\bfree\s+to\b",
        r"\bpermits?\b", r"\bgrants?\s+(?:you\s+)?(?:a\s+)?(?:licen[cs]e|permission|right)",
        r"\bzulässig", r"\b(?:ist|sind)\s+(?:ausdrücklich\s+)?(?:erlaubt|gestattet)", r"\bdarf\b(?!\s+nicht)",
        r"\b(?:est|sont)\s+(?:autorisée?s?|permise?s?|libre)", r"\bse\s+permite", r"\bestá\s+permitid",
        r"\bse\s+autoriza", r"\bè\s+(?:consentit|permess|autorizzat)", r"\b(?:is|zijn)\s+toegestaan",
        r"\bjest\s+dozwolon", r"\bdozwolon", r"\bé\s+(?:permitid|autorizad)", r"\bsão\s+permitid",
    ]
)  # fmt: skip

_NO_RESERVATION = _rx(
    [
        r"\b(?:does|do|did|has|have)\s+not\s+(?:reserve|opt)", r"\bno\s+(?:such\s+)?reservation",
        r"\bnot\s+reserved\b", r"\bkein\w{0,2}\s+(?:nutzungs)?vorbehalt", r"\bnicht\s+vorbehalten",
        r"\bne\s+(?:se\s+)?réserve\s+pas", r"\baucune\s+réserve", r"\bno\s+se\s+reserva",
    ]
)  # fmt: skip

#: The site speaking about its own processing of visitors' data (privacy notices): an AI
#: cue there is about the operator's use of AI, not a reservation against miners.
_PRIVACY = _rx(
    [
        r"personal\s+(?:data|information)", r"\byour\s+(?:data|information|inputs?|prompts?|conversations?|messages)\b",
        r"personenbezogen\w{0,3}\s+daten", r"\bihre\s+daten\b",
        r"données\s+(?:personnelles|à\s+caractère\s+personnel)", r"\bvos\s+données",
        r"datos\s+personales", r"\bsus\s+datos\b", r"dati\s+personali", r"\bi\s+(?:tuoi|suoi)\s+dati",
        r"persoonsgegevens", r"\buw\s+gegevens", r"dan\w{0,3}\s+osobow", r"\btwoje\s+dane",
        r"dados\s+pessoais", r"\b(?:os\s+)?seus\s+dados",
    ]
)  # fmt: skip


#: Every clause needs a restriction cue. The same cues without their word-boundary
#: assertions match a superset and let the regex engine skip ahead on literal prefixes (about
#: 4x faster), so sentences without any are dropped before the full cue set runs.
_GATE = re.compile(
    "|".join(
        f"(?:{p.replace(chr(92) + 'b', '')})"
        for rx in (_PROHIBIT, _RESERVE)
        for p in _PARTS[id(rx)]
    )
)


@dataclass(frozen=True, slots=True)
class TermsClause:
    """One clause of a terms page read as a reservation.

    ``kind``: ``tdm-reserved`` or ``scraping-prohibited``. ``text`` is the clause as it reads
    on the page (whitespace collapsed, at most ``MAX_CLAUSE_CHARS``), ``sha256`` its UTF-8
    digest, ``cues`` the folded words that made the reading, ``index`` the clause's position
    among the page's sentences.
    """

    kind: str
    text: str
    sha256: str
    cues: tuple[str, ...]
    index: int

    @property
    def reason(self) -> str:
        return "tos:" + self.kind


@dataclass(frozen=True, slots=True)
class TermsPage:
    ok: bool
    clauses: tuple[TermsClause, ...] = ()
    sha256: str = ""
    truncated: bool = False
    problems: tuple[str, ...] = ()
    sentences: int = 0

    @property
    def tdm_reserved(self) -> tuple[TermsClause, ...]:
        return tuple(c for c in self.clauses if c.kind == "tdm-reserved")

    @property
    def scraping_prohibited(self) -> tuple[TermsClause, ...]:
        return tuple(c for c in self.clauses if c.kind == "scraping-prohibited")


# --------------------------------------------------------------------------- text extraction

_LOOKS_HTML = re.compile(
    r"<\s*(?:!doctype|html|body|head|p|div|li|ul|ol|h[1-6]|br|section|article|table|span|a)\b", re.I
)
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u3000]+")
_LIST_MARK = "\u2022 "


def _html_lines(text: str) -> list[str]:
    text, _ = _cut_deep_nesting(text.replace("\x00", "\ufffd"))
    tree = LexborHTMLParser(text)
    tree.strip_tags(_SKIP_TAGS)
    root = tree.body or tree.root
    if root is None:
        return []
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in _BLOCK_TAGS:
            parts.append("\n" + _LIST_MARK if tag == "li" else "\n")
        # comments ("-comment") and anything else contribute no text
    return "".join(parts).split("\n")


#: Words before a full stop that do not end a sentence ("Art. 4", "z. B.", "Abs. 3").
_ABBREV = frozenset(
    {
        "art", "abs", "nr", "no", "z", "b", "bzw", "vgl", "ggf", "ca", "etc", "e", "g", "i", "u",
        "s", "ust", "pkt", "lit", "cf", "n", "p", "pp", "al", "sec", "st", "str", "inc", "ltd",
        "co", "dr", "mr", "mrs", "ms", "prof", "ch", "par", "para", "cpi", "urhg", "ff", "resp",
        "approx", "incl",
    }
)  # fmt: skip
_SENT_END = re.compile(r"[.!?]+[\"'»”)\]]*\s+")


def _sentences(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(line):
        end = m.end()
        if end >= len(line):
            break
        nxt = line[end]
        if not (nxt.isupper() or nxt in "\"'«“(§"):
            continue
        word_start = line.rfind(" ", start, m.start()) + 1
        word = line[word_start : m.start()].strip("(").casefold()
        if word in _ABBREV or (len(word) == 1 and word.isalpha()):
            continue
        if word[-1:].isdigit() and len(word) <= 3:
            continue
        out.append(line[start : m.start() + 1])
        start = end
    out.append(line[start:])
    return out


def _segments(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    """(clause shown as evidence, text classified): sentences, list items with their lead-in."""
    lead: str | None = None
    for raw in lines:
        line = _WS.sub(" ", raw).strip()
        if not line or line == _LIST_MARK.strip():
            continue
        item = line.startswith(_LIST_MARK.strip()) or bool(
            re.match(r"^(?:\(?[a-z0-9]{1,3}[.)]|[-–•*])\s", line)
        )
        if item:
            line = line.lstrip("•-–* ").strip()
        for sent in _sentences(line):
            sent = sent.strip()
            if not sent:
                continue
            for i in range(0, len(sent), MAX_SEGMENT):
                piece = sent[i : i + MAX_SEGMENT]
                if item and lead:
                    yield f"{lead} … {piece}", f"{lead} {piece}"
                else:
                    yield piece, piece
        if not item:
            # A line ending in a colon introduces the list items that follow ("You agree not to:").
            lead = line[-300:] if line.endswith(":") else None


# --------------------------------------------------------------------------- classification


#: Cues kept per kind and sentence: bounds the pairwise distance work on hostile input.
MAX_HITS = 48


def _hits(rx: re.Pattern[str], text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in rx.finditer(text):
        out.append((m.start(), m.end(), m.group(0)))
        if len(out) >= MAX_HITS:
            break
    return out


def _dist(a: list[tuple[int, int, str]], b: list[tuple[int, int, str]]) -> int:
    """Smallest gap between a span of ``a`` and a span of ``b`` (0 when they overlap)."""
    best = 1 << 30
    for s1, e1, _ in a:
        for s2, e2, _ in b:
            d = max(0, s2 - e1, s1 - e2)
            if d < best:
                best = d
    return best


def _outside(hits: list[tuple[int, int, str]], spans: list[tuple[int, int, str]]):
    return [h for h in hits if not any(s <= h[0] < e or s < h[1] <= e for s, e, _ in spans)]


def classify_clause(text: str) -> tuple[str | None, tuple[str, ...]]:
    """``("tdm-reserved" | "scraping-prohibited" | None, cues)`` for one sentence-sized text."""
    t = _fold(text[: MAX_SEGMENT * 2])
    if _GATE.search(t) is None:
        return None, ()
    tdm = _hits(_TDM, t)
    ml = _hits(_ML, t)
    ai = _hits(_AI, t)
    train = _hits(_TRAIN, t)
    prohibit = _hits(_PROHIBIT, t)
    reserve = _outside(_hits(_RESERVE, t), prohibit)
    restrict = prohibit + reserve
    permit = _outside(_hits(_PERMIT, t), restrict)
    scrape = _hits(_SCRAPE, t)

    ai_training = [h for h in train if ai and _dist([h], ai) <= TRAIN_NEAR]
    ai_training += [h for h in ai if train and _dist([h], train) <= TRAIN_NEAR]
    subject = tdm + ml + ai_training
    # A bare AI word ("content may not be used by AI systems") needs an outright prohibition.
    if not subject and ai and prohibit and _dist(ai, prohibit) <= NEAR // 2:
        subject = ai
        restrict = prohibit
    if subject and restrict:
        near = _dist(subject, restrict)
        blocked = (
            near > NEAR
            # a permission closer to the subject than any restriction ("mining is permitted ...")
            or bool(permit and _dist(subject, permit) < near)
            or bool(not prohibit and _hits(_NO_RESERVATION, t))
            # the site's own use of AI on visitors' data, not a reservation against miners
            or bool(not tdm and _hits(_PRIVACY, t))
        )
        if not blocked:
            cues = tuple(dict.fromkeys(h[2] for h in sorted(subject + restrict)))
            return "tdm-reserved", cues
    near = _dist(scrape, prohibit)
    if near <= NEAR and not (permit and _dist(scrape, permit) < near):
        cues = tuple(dict.fromkeys(h[2] for h in sorted(scrape + prohibit)))
        return "scraping-prohibited", cues
    return None, ()


def parse_terms(
    body: bytes | str | None,
    *,
    content_type: str | None = None,
    max_bytes: int = TERMS_MAX_BYTES,
) -> TermsPage:
    """Read a terms page (HTML or plain text). Pure, offline, never raises."""
    try:
        return _parse_terms(body, content_type, max_bytes)
    except Exception as exc:  # pragma: no cover - defensive: the parser must not raise
        return TermsPage(ok=False, problems=(f"parser error: {type(exc).__name__}",))


def _parse_terms(body: bytes | str | None, content_type: str | None, max_bytes: int) -> TermsPage:
    if body is None:
        return TermsPage(ok=False, problems=("no body",))
    problems: list[str] = []
    truncated = False
    if isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
        text = body
        if len(raw) > max_bytes:
            text, truncated = raw[:max_bytes].decode("utf-8", "ignore"), True
    else:
        raw = bytes(body)
        data = raw
        if len(data) > max_bytes:
            data, truncated = data[:max_bytes], True
        text, decode_problems = _decode(data)
        problems.extend(decode_problems)
    if truncated:
        problems.append(f"document cut at {max_bytes} bytes")
    digest = hashlib.sha256(raw).hexdigest()
    ctype = (content_type or "").lower()
    is_html = "html" in ctype or (
        "text/plain" not in ctype and _LOOKS_HTML.search(text[:4096]) is not None
    )
    lines = _html_lines(text) if is_html else text.splitlines()
    clauses: list[TermsClause] = []
    seen: set[str] = set()
    n = 0
    for n, (shown, classified) in enumerate(_segments(lines), 1):
        kind, cues = classify_clause(classified)
        if kind is None:
            continue
        clause = shown[:MAX_CLAUSE_CHARS]
        if clause in seen:
            continue
        seen.add(clause)
        clauses.append(
            TermsClause(
                kind=kind,
                text=clause,
                sha256=hashlib.sha256(clause.encode("utf-8", "surrogatepass")).hexdigest(),
                cues=cues,
                index=n - 1,
            )
        )
    return TermsPage(
        ok=True,
        clauses=tuple(clauses),
        sha256=digest,
        truncated=truncated,
        problems=tuple(problems),
        sentences=n,
    )
