"""The chat page on 127.0.0.1:7860 over the indexed articles (the samples on a fresh install)."""
import sys

from qa.config import SettingsError

if __name__ == "__main__":
    try:
        from qa.faces.web import main

        main()
    except SettingsError as exc:  # a QA_* variable that cannot be used: named, no traceback
        sys.exit(f"error: {exc}")
