#!/usr/bin/env python3
"""Container healthcheck: exit 0 when the app's /healthz answers 200, 1 otherwise.

Standard library only, so the prod image needs no curl or wget. Docker runs it as the
HEALTHCHECK command; compose uses it as the dev service's healthcheck too.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        print(f"healthcheck: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
