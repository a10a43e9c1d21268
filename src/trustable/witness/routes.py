"""The witness over HTTP: its own small service, run by `trustable witness serve`.

`POST /add-checkpoint` is c2sp.org/tlog-witness's; `GET /` says who the witness is
(its name and verifier key) and which logs it follows, for whoever configures a log
to ask it. Nothing here is Trustable's store: a witness may run anywhere.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from trustable.witness.service import Witness

MAX_BODY = 64 * 1024


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="Trustable witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("the request is too large\n", status_code=413)
        # Off the event loop: checking may read the log's tiles over HTTP.
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/")
    def about() -> JSONResponse:
        return JSONResponse(
            {
                "name": witness.name,
                "vkey": witness.vkey.vkey(),
                "logs": [
                    {"origin": f.origin, "size": f.size, "forked": f.forked is not None}
                    for f in witness.logs()
                ],
            }
        )

    return app
