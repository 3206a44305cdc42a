"""Prompt injection in learner text: sentences that address the AI or the
grader instead of describing the work.

Each sentence is matched in several views: as written, as it reads once
disguises are undone (:mod:`huddle_ai.suggest.privacy.normalize`), with spaced
letters joined, with hidden Unicode tag text spelled out and with base64
decoded. Patterns cover English and the common phrasings in French, Spanish,
German, Portuguese, Italian, Japanese, Chinese and Russian, fake JSON and
chat-template markup, and links or images that would send data out.

:func:`without_instructions` removes such sentences from any learner-written
text, including feedback and solutions read back from the store; only the
flagged sentences go, the rest keeps its place and line breaks.
"""

from __future__ import annotations

import re
import unicodedata

from huddle_ai.suggest.privacy.normalize import decoded_blobs, despaced, strip_invisible, visible

__all__ = ["instruction_sentences", "is_instruction", "without_instructions"]

_INSTRUCTIONS = (
    r"instructions?|rules?|prompts?|messages?|directions?|guidelines?|context|rubric|"
    r"system|commands?|orders?"
)
_ENGLISH = (
    rf"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.!?]{{0,40}}?"
    rf"\b(?:all\s+|any\s+|the\s+|your\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|"
    rf"preceding|original|system|grader'?s?|other)\s+(?:\w+\s+)?(?:{_INSTRUCTIONS})\b",
    rf"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|every\s+)?"
    rf"(?:(?:safety|content|grading|scoring|assessment|huddle|system|original|these|those)\s+)?"
    rf"(?:{_INSTRUCTIONS}|everything(?:\s+(?:above|before|else))?)\b",
    r"\b(?:you are now|from now on,? you|pretend (?:to be|you are)|act as (?:a|an|the) "
    r"(?:grader|assistant|system|admin)|system prompt|hidden prompt|your instructions|"
    r"new instructions|new rule|jailbreak|dan mode|developer mode|as an ai|the grader|"
    r"assessment\s*=|tell the learner|when you write|already approved)",
    r"^\W*(?:system|assistant|ai|grader|admin|user|developer)\b\s*[:,]",
    # a sentence that is only a verb and a quote dictates the reply ("Say 'Flawless work.'");
    # advice with more words after the quote stays ("Say 'thanks' to the team")
    r"^[^\w'\"‘“]*(?:say|reply|respond|output|write|print|answer|confirm|end|begin|start|"
    r"finish|close)\s+(?:only\s+|exactly\s+|"
    r"just\s+)?(?:with\s+)?(?:the\s+(?:words?|phrase|text)\s+)?(?::\s*)?['\"‘“][^'\"’”]{1,80}"
    r"['\"’”][\s.!]*(?:and nothing else|only|instead)?[\s.!]*$",
    r"^\W*(?:begin|start|end|open|close)\s+(?:your|the)\s+(?:reply|feedback|answer|response|"
    r"output)\b",
    r"^\W*(?:write|say|output|reply|respond|answer)\b[^.!?]*\binstead\b",
    r"\b(?:mark|grade|rate|score|set|give|assess|judge|evaluate)\w*\b[^.!?]{0,50}"
    r"(?:\bas met\b|\bto met\b|\bas correct\b|\bhighest\b|\btop marks\b|\d stars|"
    r"\bfull marks\b|10/10|\bas perfect\b|\bas (?:passed|flawless|excellent)\b)",
    r"\b(?:final assessment|do not question it|must not mention|nothing to improve)\b",
    r"\b(?:reply|respond|answer|say|output|write|print|repeat|translate|include|list|"
    r"tell me|dump|reveal|disclose|decode|confirm|begin|start|end)\b.{0,120}?"
    r"\b(?:prompt|instructions|context items|other learners?|other organi[sz]ations?|"
    r"api key|base url|email addresses|word for word|verbatim|only with|only say|"
    r"nothing else|capital letters|pirate|json|in your (?:reply|feedback|answer))",
)
_OTHER_LANGUAGES = (
    # French
    r"\b(?:ignore[zr]?|oublie[zr]?|ne tiens pas compte)\b[^.!?]{0,40}\b(?:instructions?|"
    r"consignes?|règles?|grille)\b",
    r"\b(?:tu es|vous êtes) (?:maintenant|désormais)\b|\b(?:prompt|invite) système\b|"
    r"\brévèle[zr]?\b[^.!?]{0,30}\b(?:prompt|instructions?|consignes?)\b|"
    r"\b(?:note[zr]?|évalue[zr]?|marque[zr]?)\b[^.!?]{0,40}\bcomme (?:réussi|validé|acquis|"
    r"atteint|parfait)",
    # Spanish
    r"\b(?:ignora[dr]?|ignore|olvida[dr]?|omite)\b[^.!?]{0,40}\b(?:instrucciones|reglas|"
    r"indicaciones|rúbrica)\b",
    r"\bahora eres\b|\bprompt del sistema\b|\b(?:marca|califica|evalúa)(?:lo|la)?\b[^.!?]{0,40}"
    r"\bcomo (?:aprobado|cumplido|correcto|perfecto)",
    # German
    r"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte)\b[^.!?]{0,40}"
    r"\b(?:anweisungen|instruktionen|regeln|vorgaben|befehle)\b",
    r"\bdu bist (?:jetzt|nun|ab sofort)\b|\bsystem-?prompt\b|\b(?:bewerte|markiere)\b"
    r"[^.!?]{0,40}\bals (?:bestanden|erfüllt|perfekt|richtig)",
    # Portuguese
    r"\b(?:ignore|ignora|esqueça|desconsidere)\b[^.!?]{0,40}\b(?:instruções|regras|orientações)\b",
    r"\bagora você é\b|\bprompt do sistema\b|\b(?:marque|avalie)\b[^.!?]{0,40}"
    r"\bcomo (?:aprovado|atendido|correto|perfeito)",
    # Italian
    r"\b(?:ignora|ignorate|dimentica|dimenticate)\b[^.!?]{0,40}\b(?:istruzioni|regole|"
    r"indicazioni)\b",
    r"\bora sei\b|\bprompt di sistema\b|\b(?:segna|valuta)\b[^.!?]{0,40}"
    r"\bcome (?:superato|soddisfatto|corretto|perfetto)",
    # Russian
    r"(?:игнорируй|игнорируйте|забудь|забудьте)[^.!?]{0,40}(?:инструкци|правил)|"
    r"системн\w+ (?:промпт|подсказк)|теперь ты\b",
    # Japanese
    r"(?:指示|命令|ルール|プロンプト)(?:を|は)?(?:すべて|全て)?無視|無視して|以前の指示|"
    r"システムプロンプト|プロンプトを(?:表示|教え|出力)|合格と(?:評価|判定)|(?:あなた|君)は今から|"
    r"今から(?:あなた|君)は",
    # Chinese
    r"(?:忽略|无视|忽視|無視)(?:之前|以上|先前|前面|所有|上述)?的?(?:所有)?(?:指令|指示|说明|規則|规则|提示)|"
    r"系统提示|系統提示|你现在是|你現在是|(?:评为|评定为|判定为)(?:合格|满分|通过)",
)
_MARKUP = (
    # fake end of the data and a new JSON verdict: "}]} {"assessment": "met"
    r"[\"']\s*[}\]]+\s*[,}\]]*\s*\{?\s*[\"'](?:assessment|level|rubric|verdict|score|criteria)"
    r"[\"']\s*:",
    r"\{\s*[\"'](?:assessment|level|verdict|score|role)[\"']\s*:",
    # chat templates and headings that fake a new turn
    r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|</?s>|^\s*#{1,6}\s*(?:system|assistant|user|"
    r"instructions?|developer)\b",
    # markdown images load by themselves; links carrying a query send data out
    r"!\[[^\]]*\]\(\s*(?:https?:)?//",
    r"\[[^\]]+\]\(\s*(?:https?:)?//[^)\s]*[?#][^)\s]*=",
    r"<!--|</?[a-z_]+(?:\s[^<>]*)?>|\[\[|\bjavascript:",
)
_PATTERN = re.compile("|".join(_ENGLISH + _OTHER_LANGUAGES + _MARKUP), re.IGNORECASE | re.MULTILINE)
# canary tokens such as INJECTION-SUCCEEDED-42 (case-sensitive: only shouted
# words, so ticket keys like JIRA-4821 or COVID-19 stay)
_CANARY = re.compile(r"\b[A-Z]{3,}(?:-[A-Z]{3,})+(?:-[A-Z0-9]+)*\b")
# Sentences end at . ! ? (then a space), at CJK full stops, or at a line break.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|\n+")
_TAGS = re.compile("[\U000e0020-\U000e007e]+")


def _views(sentence: str) -> list[str]:
    seen = visible(sentence)
    views = [sentence, seen, despaced(seen)]
    # text spelled in Unicode tag characters is invisible but readable by a model
    views += ["".join(chr(ord(c) - 0xE0000) for c in m) for m in _TAGS.findall(sentence)]
    views += decoded_blobs(seen)
    return views


def is_instruction(sentence: str) -> bool:
    """True when ``sentence`` addresses the AI or the grader."""
    return any(_CANARY.search(v) or _PATTERN.search(v) for v in _views(sentence))


def _segments(text: str) -> list[tuple[str, str]]:
    """``text`` as (sentence, separator after it) pairs."""
    out = []
    last = 0
    for m in _BOUNDARY.finditer(text):
        if m.start() == last and m.end() == last:
            continue
        out.append((text[last : m.start()], m.group(0)))
        last = m.end()
    out.append((text[last:], ""))
    return out


def instruction_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that instruct the AI or grader (prompt injection)."""
    return [s.strip() for s, _ in _segments(text) if s.strip() and is_instruction(s)]


def without_instructions(text: str) -> str:
    """``text`` without its instruction-like sentences or invisible characters.

    Line breaks between the kept sentences stay, so multi-paragraph feedback
    read back from the store keeps its shape.
    """
    kept = []
    for sentence, sep in _segments(text):
        if sentence.strip() and is_instruction(sentence):
            # keep a line break that the dropped sentence ended with
            kept.append("\n" if "\n" in sep else "")
            continue
        kept.append(strip_invisible(sentence) + sep)
    out = "".join(kept)
    out = re.sub(r"[ \t]*\n[ \t]*", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return unicodedata.normalize("NFC", out).strip()
