// vt-pbf ships no types (and @types/vt-pbf ties them to geojson-vt's): the one function used here.
declare module 'vt-pbf' {
  /** A layer of features already in tile coordinates; type 1 points, 2 lines, 3 polygon rings. */
  interface VectorLayer {
    features: { id?: number; type: 1 | 2 | 3; geometry: number[][] | number[][][]; tags: Record<string, unknown> }[];
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- declared for its type, the default export's member
  function fromGeojsonVt(layers: Record<string, VectorLayer>, options?: { version?: number; extent?: number }): Uint8Array;
  const vtpbf: { fromGeojsonVt: typeof fromGeojsonVt };
  export default vtpbf;
}
