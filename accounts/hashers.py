"""Argon2id with parameters chosen for the deployment, not Django's defaults.

Django's Argon2PasswordHasher asks for 100 MiB and 8 lanes per check: about 280 ms of CPU, 3.6 checks
a second per core, so a burst of sign-ins (or someone trying passwords) queues everyone. OWASP's
Password Storage Cheat Sheet lists Argon2id configurations that "provide an equal level of defense,
and the only difference is a trade off between CPU and RAM usage", among them m=47104 (46 MiB), t=1,
p=1 and m=19456 (19 MiB), t=2, p=1. The portal takes the second (the least CPU and memory) by
default: about 25 ms of CPU per check. Lanes (parallelism) split one check's memory between threads;
the work stays the same, so one lane per check fits a web server that already runs one worker per
core, and a check never competes with other workers' checks for those cores.

The parameters are settings (ARGON2_MEMORY_COST_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM, from the
environment). They are stored in each hash, so a change applies to new hashes at once and to old ones
at each person's next sign-in: `must_update` says so and `User.check_password` saves the new hash.
A system check refuses parameters below OWASP's line.
"""

from django.conf import settings
from django.contrib.auth import hashers
from django.core.checks import Error, register

# OWASP's equal-defense Argon2id minimums: the least memory (KiB) for each number of passes.
OWASP_MINIMUM_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}
BELOW_OWASP = (
    "Argon2 with {memory} KiB and {passes} pass(es) is below OWASP's minimum ({minimum} KiB for {passes} "
    "pass(es); e.g. 19456 KiB with 2 passes, or 47104 KiB with 1)."
)


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Django's Argon2id with the deployment's memory, passes and lanes (settings.ARGON2_*).

    Same algorithm name and hash format, so it checks every argon2 hash, whatever its parameters.
    """

    @property
    def memory_cost(self) -> int:  # KiB
        return settings.ARGON2_MEMORY_COST_KIB

    @property
    def time_cost(self) -> int:
        return settings.ARGON2_TIME_COST

    @property
    def parallelism(self) -> int:
        return settings.ARGON2_PARALLELISM


def owasp_minimum_memory_kib(passes: int) -> int:
    """The least memory OWASP accepts for this many passes (five or more: its last line)."""
    return OWASP_MINIMUM_MEMORY_KIB[min(max(passes, 1), 5)]


@register()
def argon2_parameters_check(app_configs=None, **kwargs) -> list[Error]:
    """Refuse Argon2 parameters below OWASP's minimum for their number of passes."""
    memory, passes = settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_TIME_COST
    errors = []
    if passes < 1 or memory < owasp_minimum_memory_kib(passes):
        errors.append(Error(
            BELOW_OWASP.format(memory=memory, passes=passes, minimum=owasp_minimum_memory_kib(passes)),
            hint="Raise ARGON2_MEMORY_COST_KIB or ARGON2_TIME_COST.", id="accounts.E001",
        ))
    if settings.ARGON2_PARALLELISM < 1:
        errors.append(Error("ARGON2_PARALLELISM must be at least 1.", id="accounts.E002"))
    return errors
