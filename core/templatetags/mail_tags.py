"""Tags of the mail templates (templates/mail/*.txt): the mail's action, and why its recipient gets it.

A mail template is written once, as plain text; core.mail_render turns what these tags record into
the HTML part's button and footer. Rendered by anything else (render_to_string), the text reads the same.
"""

from django import template

register = template.Library()

MARKS = "mail_marks"  # the context variable core.mail_render hands the tags to record into


@register.simple_tag(takes_context=True)
def mail_action(context, label, url) -> str:
    """The mail's action: "label:" and the URL on a line of their own in the text; a button and the
    same URL as a plain link in the HTML part."""
    marks = context.get(MARKS)
    if marks is None:
        return f"{label}:\n{url}"
    return marks.action(str(label), str(url))


class ReasonNode(template.Node):
    def __init__(self, nodelist, *, required: bool):
        self.nodelist = nodelist
        self.required = required

    def render(self, context) -> str:
        marks = context.get(MARKS)
        if marks is not None:
            marks.reason = " ".join(self.nodelist.render(context).split())
            marks.required = self.required
        return ""


@register.tag
def mail_reason(parser, token):
    """{% mail_reason %}…{% endmail_reason %}: why the recipient gets this mail, said in every mail's footer
    (nothing where the tag stands), with where to choose which mails they get.

    `{% mail_reason required %}`: a mail that goes out whatever the person chose (security notices, links
    to set a password or accept an invitation), whose footer has no such link: it would be the one thing
    to click besides the mail's own link."""
    bits = token.split_contents()
    if bits[1:] not in ([], ["required"]):
        raise template.TemplateSyntaxError("{% mail_reason %} takes nothing, or 'required'.")
    nodelist = parser.parse(("endmail_reason",))
    parser.delete_first_token()
    return ReasonNode(nodelist, required=bits[1:] == ["required"])
