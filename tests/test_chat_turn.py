"""generation.json's chat_turn: one user turn of the chat template as plain text, for runtimes without Jinja. It
must render exactly what apply_chat_template renders, for every family, or be absent."""

from __future__ import annotations

import pytest

from chat_templates import FAMILIES
from edgeslm.bundle.chat_turn import chat_turn, render_turn

MESSAGES = ["What is anemia?", "  padded message \n", "Dosis: 5 µg/kg — ¿por qué?", "line one\nline two", "x"]


def tokenizer_with(template: str | None):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE(vocab={"a": 0, "<s>": 1, "</s>": 2},
                                                                         merges=[])),
                                  bos_token="<s>", eos_token="</s>")
    tok.chat_template = template
    return tok


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_chat_turn_renders_as_the_template_does(family):
    tok = tokenizer_with(FAMILIES[family])
    turn = chat_turn(tok)
    assert turn is not None
    assert turn["trim"] == (family in ("llama3", "gemma"))
    for message in MESSAGES:
        want = tok.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                       tokenize=False)
        assert render_turn(turn, message) == want


def test_no_chat_turn_without_a_template_or_for_one_that_rewrites_the_message():
    assert chat_turn(tokenizer_with(None)) is None
    assert chat_turn(tokenizer_with("{{ messages[0]['content'] | upper }}")) is None
    assert chat_turn(tokenizer_with("{{ messages[0]['content'] }}{{ messages[0]['content'] }}")) is None
    assert chat_turn(tokenizer_with("{{ raise_exception('needs a system turn') }}")) is None
    dated = "{{ 'Today Date: ' + strftime_now('%d %b %Y') + '\\n' }}" + FAMILIES["llama3"]
    assert chat_turn(tokenizer_with(dated)) is None  # the date would be frozen at export
