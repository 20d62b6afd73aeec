"""Source documents (titles, numbers) and the clauses of a target's source, cited in chart notes."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from simulator.report.style import CJK_CHARS


@lru_cache(maxsize=1)
def _documents() -> dict[str, dict]:
    """``simulator/data/documents.yaml``: title, issuer, number and date of each source document."""
    import yaml

    text = resources.files("simulator").joinpath("data/documents.yaml").read_text("utf-8")
    return yaml.safe_load(text)["documents"]


def document_info(document: str) -> dict | None:
    """The entry of :func:`_documents` for a seed file name (``000_9b00245553ae58f3.txt``) or its code
    (``000``); None for a document not listed."""
    docs = _documents()
    if document in docs:
        return docs[document]
    return next((d for d in docs.values() if d["code"] == str(document)), None)


def document_title(document: str, lang: str) -> str:
    """A document's title and number for a chart footer (``《…》(齐政发〔2023〕14号)``); the name given
    when the document is not listed."""
    info = document_info(document)
    if info is None:
        return str(document)
    number = info["number"][lang]
    return f"{info['title'][lang]} ({number})" if number else info["title"][lang]


_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_int(text: str) -> int:
    """一 → 1, 十二 → 12, 二十三 → 23 (section numbers of the documents)."""
    if "十" not in text:
        return _CN_DIGIT[text]
    tens, _, units = text.partition("十")
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0)


_NUMERALS = re.compile("[一二三四五六七八九十]+")
_SECTION = re.compile(r"^(?:[一二三四五六七八九十]+|\([一二三四五六七八九十]+\))"
                      r"(?:[.．]?\(?[一二三四五六七八九十\d]+\)?)*\d*$")
_CLAUSES = ((re.compile(r"^专栏(\d+)$"), "Box {0}"), (re.compile(r"^附件(\d+)$"), "Annex {0}"),
            (re.compile(r"^第(\d+)条$"), "art. {0}"), (re.compile(r"^若干政策措施$"), "Policy Measures"),
            (re.compile(r"^实施方案$"), "Implementation Plan"))


def _clause_en(token: str) -> str | None:
    """A clause reference in English (专栏1 → Box 1, 一.(二)4 → sec. 1.(2)4); None if ``token`` is not one."""
    for pattern, fmt in _CLAUSES:
        m = pattern.match(token)
        if m:
            return fmt.format(*m.groups())
    if _SECTION.match(token):
        return "sec. " + _NUMERALS.sub(lambda m: str(_cn_int(m.group())), token)
    return None


_EN_REMARK = re.compile(rf"\s*\((?=[^()]*[A-Za-z]{{3}})[^(){CJK_CHARS}]*\)")    # "(national zone)": an English aside


def _chinese_only(text: str) -> str:
    """``text`` without its English reasoning: the quotations (``"…"``, ``“…”``) where it has any, else its
    sentences that hold more Chinese characters than Latin words."""
    quotes = re.findall(r'"[^"]+"|“[^”]+”', text)
    if quotes:
        return "; ".join(quotes)
    kept = []
    for sentence in re.split(r"(?<=[.;])\s+", text.strip()):
        latin = len(re.findall(r"[A-Za-z]{2,}", sentence))
        if latin <= len(re.findall(f"[{CJK_CHARS}]", sentence)):
            kept.append(sentence)
    return " ".join(kept).strip()


def _cite_part(part: str, lang: str) -> str:
    """One ``;``-separated part of a source, in ``lang`` only.

    Chinese keeps the clause and its quotation, ``row 5`` as 第5行, and drops English asides; English keeps
    the clause in English (Box 1 row 5, sec. 3.1, Annex 2) and English asides, and drops the Chinese
    quotation (the document title says where to read it).
    """
    tokens, i, refs = [t.rstrip(":：") or t for t in part.split()], 0, []    # "三.1:" is the clause 三.1
    while i < len(tokens):
        if tokens[i] == "row" and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            refs.append(f"第{tokens[i + 1]}行" if lang == "zh" else f"row {tokens[i + 1]}")
            i += 2
            continue
        en = _clause_en(tokens[i])
        if en is None:
            break
        refs.append(tokens[i] if lang == "zh" else en)
        i += 1
    rest = " ".join(tokens[i:])
    if lang == "zh":
        rest = _chinese_only(_EN_REMARK.sub("", rest))
        return " ".join(x for x in (" ".join(refs), rest) if x)
    remarks = [m.group().strip() for m in _EN_REMARK.finditer(rest)]
    return " ".join(refs + remarks)


def cite(source: str, lang: str, document: str | None = None) -> str:
    """A target's or baseline figure's ``source`` as a chart shows it, in ``lang`` only.

    ``000 专栏1 row 5; 一.(二)4 (200家以上)`` → ``专栏1 第5行; 一.(二)4 (200家以上)`` /
    ``Box 1 row 5; sec. 1.(2)4``. A part citing another document than ``document`` (the chart's own)
    starts with that document's title. Assumptions and statistics are named as such (their reasoning,
    in the region file and ``targets.csv``, is too long for a footer and is never cut).
    """
    text = " ".join(str(source).split())
    low = text.lower()
    if low.startswith(("assumption", "derived")):
        derived = low.startswith("derived")
        if lang == "zh":
            return "由统计数据推算 (见区域文件)" if derived else "模型假设 (理由见区域文件)"
        return "derived from published statistics (see the region file)" if derived else \
            "model assumption (reasoning in the region file)"
    if low.startswith("real_statistics"):
        return "统计数据" if lang == "zh" else "published statistics"
    own = document_info(document)["code"] if document and document_info(document) else None
    parts, current = [], own
    for part in text.split(";"):
        m = re.match(r"^\s*(\d{3})\b\s*(.*)$", part)
        prefix = ""
        if m:
            code, part = m.groups()
            if code != current and document_info(code) is not None:
                prefix = document_title(code, lang) + " " if code != own else ""
            current = code
        body = _cite_part(part, lang)
        if prefix or body:
            parts.append((prefix + body).strip())
    if parts:
        return "; ".join(parts)
    return "见区域文件" if lang == "zh" else "see the region file"
