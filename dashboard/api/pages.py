"""The page, its script and style, and the charting library (served from the npm
install in ``dashboard/node_modules``: nothing is fetched from a CDN at run time)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from producers.gateway.errors import ApiError

HERE = Path(__file__).resolve().parent.parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "node_modules"
# URL name -> file of an npm package (dashboard/package.json pins the versions).
VENDOR = {
    "uPlot.iife.min.js": NODE_MODULES / "uplot" / "dist" / "uPlot.iife.min.js",
    "uPlot.min.css": NODE_MODULES / "uplot" / "dist" / "uPlot.min.css",
}
INSTALL_HINT = "run `npm ci --prefix dashboard` (make setup does)"

router = APIRouter(include_in_schema=False)


def missing_vendor_files() -> list[str]:
    return [str(p) for p in VENDOR.values() if not p.is_file()]


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/vendor/{name}")
async def vendor(name: str) -> FileResponse:
    path = VENDOR.get(name)
    if path is None:
        raise ApiError(404, f"no vendored file {name!r}")
    if not path.is_file():
        raise ApiError(404, f"{path.name} is not installed: {INSTALL_HINT}")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
