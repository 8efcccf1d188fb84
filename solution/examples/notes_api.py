"""A small JSON API: notes kept in memory, created, read, listed, replaced, deleted.

    python examples/notes_api.py [--host H] [--port P]

    curl -i -X POST localhost:8000/notes -d '{"title": "milk", "text": "2 litres"}'
    curl -i localhost:8000/notes/1
    curl -i 'localhost:8000/notes?q=milk&limit=10'
    curl -i -X PUT localhost:8000/notes/1 -d '{"title": "milk", "text": "3 litres"}'
    curl -i -X DELETE localhost:8000/notes/1
"""

import argparse
import itertools

from protoweb import App, HTTPError, Response

app = App()
notes: dict[int, dict] = {}
new_ids = itertools.count(1)


def find(note_id: str) -> dict:
    if not note_id.isdigit() or int(note_id) not in notes:
        raise HTTPError(404, f"No note {note_id}")
    return notes[int(note_id)]


def read_note(request) -> dict:
    """The note in the request body, checked: a JSON object with a title and maybe a text."""
    data = request.json()
    if not isinstance(data, dict):
        raise HTTPError(422, "Send a JSON object")
    title, text = data.get("title"), data.get("text", "")
    if not isinstance(title, str) or not title.strip():
        raise HTTPError(422, "A note needs a title (a non-empty string)")
    if not isinstance(text, str):
        raise HTTPError(422, "The text of a note is a string")
    return {"title": title, "text": text}


@app.get("/notes")
async def list_notes(request):
    query = request.query.get("q", "").lower()
    limit = request.query.get("limit", "100")
    if not limit.isdigit():
        raise HTTPError(400, "limit is a number")
    found = [note for note in notes.values() if query in note["title"].lower() or query in note["text"].lower()]
    return {"notes": found[: int(limit)], "total": len(found)}


@app.post("/notes")
async def create_note(request):
    note = {"id": next(new_ids), **read_note(request)}
    notes[note["id"]] = note
    return Response(201, note, headers={"Location": f"/notes/{note['id']}"})


@app.get("/notes/{note_id}")
async def show_note(request, note_id):
    return find(note_id)


@app.put("/notes/{note_id}")
async def replace_note(request, note_id):
    note = find(note_id)
    note.update(read_note(request))
    return note


@app.delete("/notes/{note_id}")
async def delete_note(request, note_id):
    del notes[find(note_id)["id"]]
    return Response(204)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    app.run(args.host, args.port)
