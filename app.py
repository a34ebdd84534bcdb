"""The chat page on 127.0.0.1:7860 over the indexed articles (the samples on a fresh install)."""
from qa.faces.web import main

if __name__ == "__main__":
    main()
