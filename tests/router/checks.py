"""One line per check, then "NAME: N passed, M failed", as tests/package/lib.sh prints."""

import sys


class Checks:
    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS: {what}", flush=True)
        else:
            self.failures.append(what)
            print(f"FAIL: {what}", flush=True)
            if detail:
                print("    " + str(detail).replace("\n", "\n    "), flush=True)
        return ok

    def equal(self, what, got, want):
        return self.check(what, got == want, f"got:  {got!r}\nwant: {want!r}")

    def summary(self):
        print()
        for f in self.failures:
            print(f"failed: {f}")
        print(f"{self.name}: {self.passed} passed, {len(self.failures)} failed")
        sys.exit(1 if self.failures else 0)
