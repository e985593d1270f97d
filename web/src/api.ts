import type { FeatureCollection } from 'geojson';

export interface MapConfig {
  basemap: { tiles: string[]; attribution: string } | null;
  maxFeatures: number;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new Error(problem?.detail ?? problem?.title ?? `${response.status} ${response.statusText}`);
  }
  return response.json() as Promise<T>;
}

export const fetchMapConfig = () => getJson<MapConfig>('/api/v1/map/config');
export const fetchLayer = (layer: string, limit: number) =>
  getJson<FeatureCollection & { numberMatched: number }>(`/api/v1/${layer}?limit=${limit}`);
