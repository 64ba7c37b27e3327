"""Email writers: something that turns a client and their score into the fields of a win-back email.

The template writer works offline; the LLM writer (OpenAI-compatible) implements the same protocol. Either way
our own renderer turns the fields into HTML and text, so no writer ever supplies markup.
"""

from engagement.writer.base import CallToAction, EmailContent, EmailWriter, WriteRequest, WrittenEmail
from engagement.writer.render import Brand, RenderedEmail, render_email
from engagement.writer.template import TemplateWriter

__all__ = [
    "Brand",
    "CallToAction",
    "EmailContent",
    "EmailWriter",
    "RenderedEmail",
    "TemplateWriter",
    "WriteRequest",
    "WrittenEmail",
    "render_email",
]
