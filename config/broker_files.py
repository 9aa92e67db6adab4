"""kombu's filesystem transport with messages that appear whole.

kombu 5.x creates a message file and then writes it, while a worker's ``_get`` moves any file with
the queue's name the moment it lists it: a worker can take a file that is still empty and crash on
``JSONDecodeError`` (seen in the test suite under load). Here a message is written under a name no
queue matches and renamed into place, which is atomic on one filesystem.
"""

import os
import uuid
from time import monotonic_ns

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # Nanoseconds, zero-padded: names sort in the order they were sent (kombu uses milliseconds).
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # "<queue>.msg.partial" never matches a queue in _get
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Make ``filesystem://`` URLs use this transport in every process that loads the Celery app."""
    TRANSPORT_ALIASES["filesystem"] = "config.broker_files:Transport"
