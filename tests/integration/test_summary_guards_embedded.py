"""Bad model answers from the real embedded server (llama.cpp): the template stands, the
reason is in the label and the audit record, and nothing a guard rejects becomes the summary.

A real model does not answer badly on demand, so each bad answer is forced through the
server's own constrained decoding: the JSON schema of the request allows exactly one string
(an `enum`), which llama.cpp's grammar then generates token by token. The answer travels
the real protocol and the step's real judging path; only its content is chosen here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from citybrain.config import Settings
from citybrain.core.ambiguity import routing_case
from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.prompts import summary_messages, summary_schema
from citybrain.core.summary import TEMPLATE_MARKS
from citybrain.llm.client import ChatRequest, LLMClient
from citybrain.llm.step import Item, ModelStep

pytestmark = pytest.mark.integration
T = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
ZH = ["和平路地下通道积水很深，车辆无法通行", "和平路地下通道又积水了，行人只能绕行"]


def item(city: City, texts: list[str]) -> Item:
    from citybrain.core.incident import Incident

    inc = Incident(
        id="i-flood", category="flooding", district="xicheng", location=None,
        opened_at=T, updated_at=T, ticket_count=len(texts),
    )  # fmt: skip
    ev = [EvidenceItem("ticket", f"t{i}", t) for i, t in enumerate(texts)]
    return Item(inc, key_facts(city, inc, ev), texts, routing_case(city, "flooding", "xicheng"))


def forced(answer: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"summary": {"type": "string", "enum": [answer]}},
        "required": ["summary"],
    }


def ask(
    settings: Settings,
    city: City,
    endpoint: str,
    texts: list[str],
    schema: dict[str, Any] | None,
    max_tokens: int = 96,
    timeout_s: float = 180.0,
) -> Item:
    llm = settings.llm.model_copy(update={"timeout_s": timeout_s, "retries": 0})
    client = LLMClient(llm, endpoint)
    step = ModelStep(city, llm, client)
    it = item(city, texts)
    try:
        lang = step.language_of(it)
        req = ChatRequest(
            summary_messages(it.facts, it.texts, lang), schema, max_tokens, timeout_s=timeout_s
        )
        step.summarise([it], None, ask=False)  # the template first, as the dispatch job does
        step.judge_summary(it, req, client.chat(req))  # what the summary worker does per answer
    finally:
        client.close()
    return it


def template_stands(it: Item, outcome: str) -> str:
    assert it.label is not None and it.label.generated_by == "template"
    assert it.summary.endswith(TEMPLATE_MARKS[1] if it.language == "zh" else TEMPLATE_MARKS[0])
    call = it.calls[-1]
    assert call.outcome == outcome, call
    assert outcome in (it.label.note or "")
    return call.detail


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("asdf qwer zxcv 乱码乱码", "claim not in the reports"),  # nonsense
        ("The underpass on Heping Road is flooded.", "not in Chinese"),  # another language
        ("您好，我是[Your Name]，地下通道积水。", "carries a placeholder"),  # placeholder
        ("", "empty summary"),  # empty
        ("和平路地下通道积水，造成3人死亡。", "invents harm"),
        ("地下通道积水问题已解决，政府出台了新政策。", "invents an outcome"),
    ],
)
def test_a_bad_answer_leaves_the_template(
    settings: Settings, city: City, embedded_llm: str, answer: str, why: str
) -> None:
    it = ask(settings, city, embedded_llm, ZH, forced(answer))
    assert it.language == "zh"
    assert why in template_stands(it, "rejected_by_guard")
    assert answer in it.calls[-1].response  # the audit keeps what the model said


def test_json_that_does_not_parse_leaves_the_template(
    settings: Settings, city: City, embedded_llm: str
) -> None:
    """Cut off after a few tokens, the constrained answer is not a complete JSON object."""
    it = ask(settings, city, embedded_llm, ZH, summary_schema(), max_tokens=3)
    template_stands(it, "invalid")


def test_no_answer_within_the_timeout_leaves_the_template(
    settings: Settings, city: City, embedded_llm: str
) -> None:
    it = ask(settings, city, embedded_llm, ZH, summary_schema(), timeout_s=0.001)
    template_stands(it, "timeout")


def test_a_faithful_answer_is_composed_after_the_facts(
    settings: Settings, city: City, embedded_llm: str
) -> None:
    it = ask(settings, city, embedded_llm, ZH, forced("和平路地下通道积水很深，车辆无法通行。"))
    assert it.label is not None and it.label.generated_by == "model", it.calls[-1].detail
    assert it.summary.startswith("西城区道路积水：市民反映2件")
    assert it.summary.endswith("市民反映内容：和平路地下通道积水很深，车辆无法通行。")
