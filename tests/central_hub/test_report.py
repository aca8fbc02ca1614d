"""Operator tables line up in a terminal, where a Chinese character takes two columns."""

from central_hub.report import table


def test_cjk_cells_are_padded_by_terminal_columns() -> None:
    text = table(["指标", "value"], [["早孕建册率", "0.5"], ["abc", "1"]])
    assert text.splitlines() == [
        "指标" + " " * 8 + "value",
        "-" * 10 + "  " + "-" * 5,
        "早孕建册率" + "  " + "0.5",
        "abc" + " " * 9 + "1",
    ]


def test_control_characters_are_escaped_and_padded_as_written() -> None:
    text = table(["fw"], [["1.0\x1b[2J"], ["2"]])
    assert text.splitlines() == ["fw", "-" * 10, "1.0\\x1b[2J", "2"]
