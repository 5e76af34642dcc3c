"""Stand-in of `next build`: bakes the NEXT_PUBLIC_* values and the e-mail
senders of lib/resend.ts into .next/build.json, as Next.js inlines them.

A file named BUILD_FAIL in the source makes the build fail (a release that
does not build: the running one must stay untouched).
"""

import json
import os
import re
import sys
from pathlib import Path

app = Path(sys.argv[1])
if (app / "BUILD_FAIL").exists():
    sys.exit("stand-in build: " + (app / "BUILD_FAIL").read_text().strip())
senders = sorted(set(re.findall(r"<([^<>\s]+@[^<>\s]+)>", (app / "lib/resend.ts").read_text())))
out = app / ".next"
out.mkdir(exist_ok=True)
baked = {name: value for name, value in os.environ.items() if name.startswith("NEXT_PUBLIC_")}
if (app / "BROKEN").exists():
    (out / "BROKEN").write_text((app / "BROKEN").read_text())
(out / "build.json").write_text(json.dumps({"env": baked, "senders": senders}, indent=2, sort_keys=True))
print(f"stand-in build: {len(baked)} NEXT_PUBLIC_* values, senders {senders}")
