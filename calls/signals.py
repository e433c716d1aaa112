"""What the calls app tells the apps built on it, which it does not import (DESIGN.md §2: campaigns uses calls,
never the other way). Each is sent by a service, inside its transaction; a receiver that fails undoes the service.

- ``call_ended(call)``: a call reached a final status (the dialer schedules the campaign's retry or completes it);
- ``contact_data_changed(contact)``: a contact's number or other information changed (its lists must be checked
  for risks again).
"""

from django.dispatch import Signal

call_ended = Signal()
contact_data_changed = Signal()
