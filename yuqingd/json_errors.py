"""JSON syntax errors in Chinese, with what usually fixes them (input files of simulate,
explain and analyze: policy staff write or edit them by hand)."""

from __future__ import annotations

import json

from yuqingd.located import msg

_PROBLEMS_ZH = {
    "Expecting value": "此处缺少值（多了逗号，或值没有写？）",
    "Extra data": "一个 JSON 值之后还有多余内容（每行只能有一个 JSON 对象）",
    "Expecting property name enclosed in double quotes":
        "字段名须用英文双引号括起（最后一项后不能有逗号）",
    "Illegal trailing comma": "最后一项后不能有逗号",  # Python 3.13's words for it
    "Expecting ',' delimiter": "缺少逗号 ','",
    "Expecting ':' delimiter": "缺少冒号 ':'",
    "Unterminated string starting at": "字符串的引号没有闭合",
    "Invalid control character at": "字符串中有控制字符（如换行，请写成 \\n）",
    "Invalid \\escape": "无效的转义（反斜杠请写成 \\\\）",
}


def describe(exc: json.JSONDecodeError) -> str:
    """The problem, Chinese first (json's own words in English)."""
    for english, chinese in _PROBLEMS_ZH.items():
        if exc.msg.startswith(english):
            return msg(f"不是有效的 JSON：{chinese}", f"not valid JSON: {exc.msg}")
    return msg(f"不是有效的 JSON：{exc.msg}", f"not valid JSON: {exc.msg}")
