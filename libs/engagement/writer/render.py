"""Our own email template: HTML and plain text from an EmailContent, every field escaped.

Writers (the LLM included) only ever supply text; markup comes from here. The footer carries what a commercial
email needs: the sender's postal address and an unsubscribe link slot that delivery fills per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from engagement.domain.consent import UNSUBSCRIBE_SLOT
from engagement.domain.models import ProductPick
from engagement.writer.base import EmailContent
from engagement.writer.products import price_text, with_utm


class Brand(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    postal_address: str
    shop_url: str


class RenderedEmail(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    subject: str
    preheader: str
    html: str
    text: str


def _safe_url(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return parts.geturl()


def _cards_html(picks: Sequence[ProductPick], email_id: str) -> str:
    """One row a product: its picture, title and price, each linking to its page (with UTM naming the email)."""
    e = escape
    rows = []
    for pick in picks:
        link = _safe_url(with_utm(pick.url, email_id))
        image = _safe_url(pick.image_url) if pick.image_url else None
        picture = (f'<img src="{e(image)}" alt="{e(pick.title)}" width="120" style="display:block;border:0;'
                   f'width:120px;max-width:120px">') if image else ""  # fmt: skip
        if link and picture:
            picture = f'<a href="{e(link)}">{picture}</a>'
        title = f'<a href="{e(link)}" style="color:#1f3a5f">{e(pick.title)}</a>' if link else e(pick.title)
        rows.append(
            f'<tr><td style="padding:8px 12px 8px 0;width:120px;vertical-align:top">{picture}</td>'
            f'<td style="padding:8px 0;vertical-align:top;line-height:1.4"><strong>{title}</strong><br>'
            f"{e(price_text(pick.price, pick.currency))}</td></tr>"
        )
    if not rows:
        return ""
    body = "\n".join(rows)
    return f'<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 16px">\n{body}\n</table>'


def _cards_text(picks: Sequence[ProductPick], email_id: str) -> list[str]:
    """The cards as one block of lines, or nothing."""
    lines = [
        f"- {pick.title}, {price_text(pick.price, pick.currency)}: {with_utm(pick.url, email_id)}" for pick in picks
    ]
    return ["\n".join(lines)] if lines else []


def render_email(
    content: EmailContent, brand: Brand, picks: Sequence[ProductPick] = (), email_id: str = ""
) -> RenderedEmail:
    """picks: the product cards, in order (shown after the paragraphs); email_id: named in the cards' links."""
    e = escape
    cta_url = _safe_url(content.call_to_action.url)
    paragraphs_html = "\n".join(
        f'<p style="margin:0 0 16px;line-height:1.5">{e(paragraph)}</p>' for paragraph in content.paragraphs
    )
    if cta_url:
        cta_html = (
            f'<p style="margin:24px 0"><a href="{e(cta_url)}" style="background:#1f3a5f;color:#ffffff;'
            f'padding:12px 20px;border-radius:4px;text-decoration:none">{e(content.call_to_action.label)}</a></p>'
        )
    else:
        cta_html = f'<p style="margin:24px 0">{e(content.call_to_action.label)}</p>'
    html = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{e(content.subject)}</title></head>
<body style="margin:0;padding:0;background:#f6f6f6;font-family:Helvetica,Arial,sans-serif;color:#222">
<div style="display:none;max-height:0;overflow:hidden">{e(content.preheader)}</div>
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff">
<p style="margin:0 0 16px;line-height:1.5">{e(content.greeting)}</p>
{paragraphs_html}
{_cards_html(picks, email_id)}
{cta_html}
<p style="margin:0 0 16px;line-height:1.5">{e(content.sign_off)}</p>
<hr style="border:none;border-top:1px solid #ddd;margin:24px 0">
<p style="font-size:12px;color:#777;line-height:1.4">{e(brand.name)} · {e(brand.postal_address)}<br>
<a href="{UNSUBSCRIBE_SLOT}" style="color:#777">Unsubscribe</a> from these emails.</p>
</div>
</body>
</html>
"""
    cta_text = f"{content.call_to_action.label}: {cta_url}" if cta_url else content.call_to_action.label
    text = "\n\n".join(
        [
            content.greeting,
            *content.paragraphs,
            *_cards_text(picks, email_id),
            cta_text,
            content.sign_off,
            f"--\n{brand.name} · {brand.postal_address}\nUnsubscribe: {UNSUBSCRIBE_SLOT}",
        ]
    )
    return RenderedEmail(subject=content.subject, preheader=content.preheader, html=html, text=text + "\n")
