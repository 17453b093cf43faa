"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu (5.7) creates the message file in the queue folder and then writes into it; a worker
polling the folder can take the file in between, read it empty and lose the message (seen here
under load as ``JSONDecodeError`` in the worker). Writing beside it and renaming the finished
file into place makes a message appear whole or not at all. File names also keep FIFO order
for messages sent within the same millisecond.
"""

from __future__ import annotations

import itertools
import os
import uuid
from time import monotonic_ns

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

_sequence = itertools.count()


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu reads files in name order: a zero-padded nanosecond clock plus this process's
        # sequence number keeps FIFO order even for messages sent within one millisecond (kombu's
        # own millisecond prefix left those in random uuid order). The hidden temporary name
        # does not end in ".<queue>.msg", so no worker picks it up early.
        name = f"{monotonic_ns():020d}_{next(_sequence):012d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(temporary, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
