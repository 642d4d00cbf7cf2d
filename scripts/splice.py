"""splice.py FILE NAME REPORT HEADING: puts REPORT's text into FILE between the lines
<!-- NAME:begin --> and <!-- NAME:end -->, under a line naming HEADING (the command and
the date), replacing what was there."""
import sys

path, name, report, heading = sys.argv[1:5]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = open(path).read()
if begin not in text or end not in text:
    sys.exit(f"{path} has no {begin} ... {end} markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
body = open(report).read().strip()
open(path, "w").write(f"{head}{begin}\nFigures of `{heading}`:\n\n{body}\n{end}{tail}")
