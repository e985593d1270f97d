import type { Position } from 'geojson';

type Project = (lng: number, lat: number) => { x: number; y: number };

/** How close, in screen pixels, the pointer must come to a vertex or an edge to be drawn to it. */
export const SNAP_PIXELS = 10;

/**
 * Where a dragged or drawn vertex goes near the boundaries it must meet (the neighbouring grids' and the
 * community's): onto the nearest of their vertices within `pixels`, so a shared vertex stays the very same
 * coordinates; failing that, onto the nearest point of their edges; else nowhere (undefined: it goes where
 * the pointer is). Distances are measured on the screen, as the planner sees them.
 */
export function snapToRings(
  rings: Position[][],
  pointer: { x: number; y: number },
  project: Project,
  pixels = SNAP_PIXELS,
): Position | undefined {
  let vertex: Position | undefined;
  let nearest = pixels;
  for (const ring of rings) {
    for (const position of ring) {
      const { x, y } = project(position[0], position[1]);
      const distance = Math.hypot(x - pointer.x, y - pointer.y);
      if (distance < nearest) [vertex, nearest] = [position, distance];
    }
  }
  if (vertex) return vertex;

  let onEdge: Position | undefined;
  nearest = pixels;
  for (const ring of rings) {
    for (let i = 1; i < ring.length; i++) {
      const [a, b] = [ring[i - 1], ring[i]];
      const [pa, pb] = [project(a[0], a[1]), project(b[0], b[1])];
      const [dx, dy] = [pb.x - pa.x, pb.y - pa.y];
      const length2 = dx * dx + dy * dy;
      if (length2 === 0) continue;
      const along = Math.min(1, Math.max(0, ((pointer.x - pa.x) * dx + (pointer.y - pa.y) * dy) / length2));
      const distance = Math.hypot(pa.x + along * dx - pointer.x, pa.y + along * dy - pointer.y);
      // the point at the same fraction of the edge in degrees: on the edge as PostGIS draws it
      if (distance < nearest) [onEdge, nearest] = [[a[0] + along * (b[0] - a[0]), a[1] + along * (b[1] - a[1])], distance];
    }
  }
  return onEdge;
}

/** Whether a point on the screen lies within `pixels` of a ring's edges (a click there is about the boundary). */
export function nearRing(ring: Position[], pointer: { x: number; y: number }, project: Project, pixels = SNAP_PIXELS): boolean {
  return snapToRings([ring], pointer, project, pixels) !== undefined;
}
