"""The few HTML pages clients see (unsubscribe). No script, every value escaped."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family:Helvetica,Arial,sans-serif;max-width:480px;margin:48px auto;padding:0 16px;color:#222">
<h1 style="font-size:22px">{title}</h1>
{content}
</body></html>
"""


def _page(title: str, content: str) -> str:
    return _PAGE.format(title=escape(title), content=content)


def confirm_unsubscribe(query: str) -> str:
    """The form posts back to the same signed link."""
    action = escape(f"/unsubscribe?{query}", quote=True)
    return _page(
        "Unsubscribe",
        "<p>You will no longer receive these emails from us.</p>"
        f'<form method="post" action="{action}"><button type="submit" style="padding:10px 18px">'
        "Unsubscribe</button></form>",
    )


def unsubscribed() -> str:
    return _page("You are unsubscribed", "<p>We will not email you again. Sorry to see you go.</p>")


def invalid_link() -> str:
    return _page("This link is not valid", "<p>It may have been changed or cut short. Use the link in the email.</p>")
