"""`{% state_next state of="item" %}`: the one line of what happens next to a person or invite in a state."""

from django import template

from onboarding.explanations import invite_state_next, item_state_next

register = template.Library()


@register.simple_tag
def state_next(state: str, of: str = "item") -> str:
    """What happens next, and who acts, for a requested person's (`of="item"`) or an invite's state."""
    return invite_state_next(state) if of == "invite" else item_state_next(state)
