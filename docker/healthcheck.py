#!/usr/bin/env python3
"""Container healthcheck: exit 0 when the app's /healthz answers 200, 1 otherwise.

Standard library only, so the prod image needs no curl or wget. Docker runs it as the
HEALTHCHECK command of both images. http.client, not urllib.request: urllib sends the request
to a proxy named in HTTP_PROXY (which a company's Docker setup may put into every container)
unless NO_PROXY lists 127.0.0.1, and it takes longer to import, which counts where
every check starts a Python (ten times slower emulated, e.g. arm64 images on amd64).
"""

import http.client
import os
import sys

TIMEOUT_SECONDS = 2  # below the HEALTHCHECK's own timeout, so a hung app gets a message


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    where = f"http://127.0.0.1:{port}/healthz"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        print(f"healthcheck: {where}: {error}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthcheck: {where} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
