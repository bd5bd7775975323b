"""Password hashing: Argon2id with OWASP's lighter parameters of equal strength.

Django's defaults (m=100 MiB, t=2, p=8) cost ~150 ms of CPU per signup or login on our 2-core
machines, so a login storm saturates them at ~13 logins/s. OWASP's Password Storage Cheat Sheet
lists parameter sets of equal strength; m=19 MiB, t=2, p=1 is its first. The algorithm name stays
"argon2", so existing hashes still verify and Django rehashes them at the next login (must_update
compares these parameters).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    # https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
    memory_cost = 19 * 1024  # KiB: 19 MiB
    time_cost = 2
    parallelism = 1
