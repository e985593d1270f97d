import { createContext, useContext, useEffect, useEffectEvent } from 'react';
import type { Pick } from './MapView.tsx';

/** Where a view that picks places on the map says what a click does (null: it stopped picking). */
export const PickContext = createContext<(pick: Pick | null) => void>(() => {});

/**
 * A click on the map calls `onPick` with the view's state as it is at the click: the view acts on the click
 * itself (it opens an address, chooses a grid), instead of a click being kept as state for an effect to find.
 */
export function usePick(onPick: Pick) {
  const register = useContext(PickContext);
  // an Effect Event: the click reads the view's latest state, without registering anew at each render
  const picked = useEffectEvent(onPick);
  useEffect(() => {
    register((at, issueId) => picked(at, issueId));
    return () => register(null);
  }, [register]);
}

/** A point as it is written in an address (`?at=lon,lat`): to 7 decimals, about a centimetre. */
export const pointParam = ([lon, lat]: [number, number]) => `${lon.toFixed(7)},${lat.toFixed(7)}`;

/** The point of an address's `at`, or null when it has none (or not two numbers). */
export function pointOf(search: string): [number, number] | null {
  const at = new URLSearchParams(search).get('at')?.split(',').map(Number);
  return at?.length === 2 && at.every(Number.isFinite) ? [at[0], at[1]] : null;
}
