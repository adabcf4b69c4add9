"""The official router's other routes: what verl's reward_score modules score that GoLongRL data never uses,
reimplemented from their documented behaviour so an imported official row scores as it does there.

  openai/gsm8k                 gsm8k (strict): `#### <number>` in the last 300 characters, commas and `$`
                               removed, compared as a string with the ground truth
  lighteval/MATH, ...          Hendrycks MATH: the last `\\boxed` answer, both sides through MATH's
                               strip_string normalisation, compared as strings (any error -> 0)
  math_dapo, math, ...         Minerva (Lewkowycz et al. 2022): the last `Answer: ...` line of the last 500
                               characters, both sides through normalize_final_answer, compared as strings
  retrieval_calculate          the doc ids in <relevant_doc_ids> must equal the gold set and
                               <continue_reasoning> must pass math_verify: 1, else 0
  searchR1_*                   the last <answer>...</answer>, SQuAD-normalised, equal to a target; a response
                               with more than 10 <answer> or </answer> tags gets a quarter

Where the official code raises (a ground truth of the wrong type, a missing key) these raise Unscorable;
the router turns that into 0.0 and a warning (router.py).
"""

from __future__ import annotations

import re
import string
from typing import Any

from golong_data.rewards.common import Unscorable, need

# ---------------------------------------------------------------- gsm8k

_GSM8K = re.compile(r"#### (\-?[0-9\.\,]+)")


def gsm8k(solution: str, ground_truth: Any) -> float:
    m = _GSM8K.search(solution[-300:])
    if m is None:
        return 0.0
    return 1.0 if m.group(1).replace(",", "").replace("$", "") == ground_truth else 0.0


# ---------------------------------------------------------------- Hendrycks MATH


def last_boxed(text: str) -> str | None:
    """The last `\\boxed{...}` (braces balanced), `\\boxed <rest up to $>`, or else the last `\\fbox{...}`."""
    if "\\boxed " in text:
        return "\\boxed " + text.split("\\boxed ")[-1].split("$")[0]
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _unbox(s: str) -> str:
    if "\\boxed " in s:
        if not s.startswith("\\boxed "):
            raise ValueError(s)
        return s[len("\\boxed ") :]
    if not (s.startswith("\\boxed{") and s.endswith("}")):
        raise ValueError(s)  # e.g. an \fbox{...}: the official assert fails and the score is 0
    return s[len("\\boxed{") : -1]


def _fracs(s: str) -> str:
    """\\frac12 -> \\frac{1}{2}, \\frac1b -> \\frac{1}{b}, \\frac1{2} -> \\frac{1}{2}. A bare trailing
    \\frac raises IndexError (the official code's too; the caller then compares the raw strings)."""
    head, *rest = s.split("\\frac")
    out = [head]
    for sub in rest:
        out.append("\\frac")
        if sub[0] == "{":
            out.append(sub)
        elif len(sub) < 2:
            return s
        elif sub[1] != "{":
            out.append("{" + sub[0] + "}{" + sub[1] + "}" + sub[2:])
        else:
            out.append("{" + sub[0] + "}" + sub[1:])
    return "".join(out)


def _a_slash_b(s: str) -> str:
    parts = s.split("/")
    if len(parts) != 2:
        return s
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return s
    return f"\\frac{{{a}}}{{{b}}}" if s == f"{a}/{b}" else s


def _sqrt(s: str) -> str:
    if "\\sqrt" not in s:
        return s
    head, *rest = s.split("\\sqrt")
    return head + "".join("\\sqrt" + (sub if sub[0] == "{" else "{" + sub[0] + "}" + sub[1:]) for sub in rest)


def math_strip(s: str) -> str:
    """MATH's strip_string: remove layout and units, canonical fractions. Raises where it does."""
    for a, b in (("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"), ("\\left", ""),
                 ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", "")):
        s = s.replace(a, b)
    if "\\text{ " in s:  # units on the right
        parts = s.split("\\text{ ")
        if len(parts) != 2:
            raise ValueError("several \\text{ ")
        s = parts[0]
    s = s.replace("\\\\%", "").replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "k = 3" -> "3"
        s = sides[1]
    s = _fracs(_sqrt(s).replace(" ", ""))
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _a_slash_b(s)


def math_equiv(a: str, b: Any) -> bool:
    try:
        return math_strip(a) == math_strip(b)
    except Exception:  # noqa: BLE001 - the official is_equiv falls back to plain equality on any error
        return a == b


def hendrycks_math(solution: str, ground_truth: Any) -> float:
    try:
        boxed = last_boxed(solution)
        return 1.0 if boxed is not None and math_equiv(_unbox(boxed), ground_truth) else 0.0
    except Exception:  # noqa: BLE001 - the official compute_score prints the error and scores 0
        return 0.0


# ---------------------------------------------------------------- Minerva (math_dapo without math_verify)

_MINERVA_SUBS = (("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), ("\\ ", ""), (" ", ""), ("mbox", "text"),
                 (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"))
_MINERVA_REMOVE = (
    "square", "ways", "integers", "dollars", "mph", "inches", "hours", "km", "units", "\\ldots", "sue", "points",
    "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals", "edges", "students",
    "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3",
    "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;", ",\\!", "{,}", '"', "\\dots",
)
_MINERVA_RE = (
    (re.compile(r"(.*?)(\$)(.*?)(\$)(.*)"), "$\\3$"),
    (re.compile(r"(\\text\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\textbf\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\overline\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\boxed\{)(.*)(\})"), "\\2"),
    (re.compile(r"(frac)([^{])(.)"), "frac{\\2}{\\3}"),
    (re.compile(r"(sqrt)([^{])"), "sqrt{\\2}"),
)
_ANSWER_LINE = re.compile(r"(?i)Answer\s*:\s*([^\n]+)")


def minerva_normalize(answer: str) -> str:
    """normalize_final_answer: the right-hand side of the last `=`, units and TeX layout removed."""
    answer = answer.split("=")[-1]
    for a, b in _MINERVA_SUBS:
        answer = answer.replace(a, b)
    for x in _MINERVA_REMOVE:
        answer = answer.replace(x, "")
    for rx, repl in _MINERVA_RE:
        answer = rx.sub(repl, answer)
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():
        answer = answer.replace(",", "")
    return answer.strip()


def minerva(solution: str, ground_truth: Any) -> float:
    found = _ANSWER_LINE.findall(solution[-500:])
    pred = minerva_normalize(found[-1] if found else "[INVALID]")
    if not isinstance(ground_truth, str):
        raise Unscorable(f"math_dapo ground truth must be a string, got {type(ground_truth).__name__}")
    return 1.0 if pred == minerva_normalize(ground_truth) else 0.0


# ---------------------------------------------------------------- retrieval_calculate

_DOC_IDS = re.compile(r"<relevant_doc_ids>(.*?)</relevant_doc_ids>", re.S)
_DOC_ID = re.compile(r"<\|doc_\d+\|>")
_REASONING = re.compile(r"<continue_reasoning>(.*?)</continue_reasoning>", re.S)


def retrieval_calculate(answer: str, ground_truth: Any, math_score: Any) -> float:
    """`answer` is the text after the last </think>; math_score(text, gold) is math_verify_score."""
    m = _DOC_IDS.search(answer)
    ids = _DOC_ID.findall(m.group(1)) if m else []
    r = _REASONING.search(answer)
    reasoning = r.group(1).strip() if r else ""
    if not ids or not reasoning:
        return 0.0
    gold_ids = need(ground_truth, "doc_ids")
    try:
        same = set(gold_ids) == set(ids)
    except TypeError:
        raise Unscorable(f"doc_ids {type(gold_ids).__name__} is not a collection of ids") from None
    score = math_score(reasoning, need(ground_truth, "golden_label"))
    if score < 0:
        raise Unscorable("golden_label is neither a string nor a collection")
    return 1.0 if same and score > 0 else 0.0


# ---------------------------------------------------------------- searchR1

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def squad_normalize(s: str) -> str:
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def search_r1_em(solution: str, ground_truth: Any) -> float:
    found = _ANSWER_TAG.findall(solution)
    if not found:
        return 0.0
    targets = need(ground_truth, "target")
    targets = [targets] if isinstance(targets, str) else targets
    pred = squad_normalize(found[-1].strip())
    try:
        hit = any(squad_normalize(t) == pred for t in targets)
    except (TypeError, AttributeError):
        raise Unscorable("searchR1 targets must be strings") from None
    if not hit:
        return 0.0
    return 0.25 if solution.count("<answer>") > 10 or solution.count("</answer>") > 10 else 1.0
