import type { TopLevelSpec } from 'vega-lite';
import { renderFigure, type RenderOptions, type RenderedFigure } from './render.js';

/** One look at a cluster's queue (what `loadbalance -p` records each interval). */
export interface QueuePoint {
  /** ISO time. */
  time: string;
  nodes: number;
  running: number;
  waiting: number;
}

/** Nodes, running jobs and waiting jobs over time, as StarCluster's balancer plotted them. */
export async function queueFigure(
  points: readonly QueuePoint[],
  options: RenderOptions & { name?: string } = {},
): Promise<RenderedFigure> {
  const rows = points.flatMap((p) => [
    { time: p.time, series: 'nodes', value: p.nodes },
    { time: p.time, series: 'jobs running', value: p.running },
    { time: p.time, series: 'jobs waiting', value: p.waiting },
  ]);
  const spec: TopLevelSpec = {
    width: 640,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', interpolate: 'step-after', point: true },
    encoding: {
      x: { field: 'time', type: 'temporal', title: 'time' },
      y: { field: 'value', type: 'quantitative', title: 'count' },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  return renderFigure(options.name ?? 'loadbalance', 'Cluster size and queue over time', spec, options);
}
