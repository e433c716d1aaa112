"""What the campaigns app does when the calls app announces something (``calls.signals``): calls never imports
campaigns, so the dialer and the lists hear of a call's end and of a contact's change this way."""

from django.dispatch import receiver

from calls import signals

from .dialer import campaign_call_ended
from .services.lists import contact_lists_recheck


@receiver(signals.call_ended, dispatch_uid="campaigns.call_ended")
def _call_ended(sender, *, call, **kwargs) -> None:
    if call.campaign_id:
        campaign_call_ended(call=call)


@receiver(signals.contact_data_changed, dispatch_uid="campaigns.contact_data_changed")
def _contact_data_changed(sender, *, contact, **kwargs) -> None:
    contact_lists_recheck(contact=contact)
