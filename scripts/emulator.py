"""The local AWS emulator (moto's server) with DynamoDB's write atomicity.

DynamoDB applies each request to an item atomically: a conditional update's check and its write
are one step, and a transaction is all or nothing. moto's server answers requests on many
threads and its DynamoDB backend takes no lock, so two racing conditional updates can both pass
their condition (two sign-in attempts both taking the last allowed one). The platform relies on
that atomicity (throttle counters, tenant compare-and-set, job progress), so this launcher runs
every DynamoDB backend call under one lock before starting the server. Other services keep
moto's concurrency (an SQS long poll does not hold up the rest).

Usage: the same arguments as `moto_server`.
"""

import functools
import inspect
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _atomic(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return locked


for _name, _method in list(vars(DynamoDBBackend).items()):
    if inspect.isfunction(_method) and not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _atomic(_method))

if __name__ == "__main__":
    sys.exit(main())
