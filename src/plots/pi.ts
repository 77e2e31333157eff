import type { TopLevelSpec } from 'vega-lite';
import { renderFigure, type RenderOptions, type RenderedFigure } from './render.js';

/** One engine's share of a Monte Carlo pi run. */
export interface PiEngineEstimate {
  engine: number;
  samples: number;
  pi: number;
}

/** Standard error of a pi estimate from n samples: 4·sqrt(p(1−p)/n), p = π/4. */
export function piStderr(samples: number): number {
  const p = Math.PI / 4;
  return samples > 0 ? 4 * Math.sqrt((p * (1 - p)) / samples) : NaN;
}

/**
 * The estimate of each engine (points with ±1σ error bars), the true value π (a rule), and the
 * ±1σ band a typical engine (median samples) is expected to fall in two times out of three.
 */
export async function piPerEngineFigure(
  data: { perEngine: readonly PiEngineEstimate[]; pi?: number },
  options: RenderOptions & { name?: string } = {},
): Promise<RenderedFigure> {
  const rows = data.perEngine.map((e) => {
    const s = piStderr(e.samples);
    return { engine: `${e.engine}`, samples: e.samples, pi: e.pi, lo: e.pi - s, hi: e.pi + s };
  });
  const sorted = data.perEngine.map((e) => e.samples).sort((a, b) => a - b);
  const sigma = piStderr(sorted[Math.floor(sorted.length / 2)] ?? 0);
  const title = `Estimate of π per engine (${data.perEngine.length} engines)`;
  const x = { field: 'engine', type: 'ordinal', title: 'engine', sort: null, axis: { labelAngle: 0 } } as const;
  const layers: Record<string, unknown>[] = [
    {
      data: { values: [{ lo: Math.PI - sigma, hi: Math.PI + sigma }] },
      mark: { type: 'rect', color: '#9ecae1', opacity: 0.35 },
      encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
    },
    {
      data: { values: [{ pi: Math.PI, label: 'π' }] },
      layer: [
        {
          mark: { type: 'rule', color: '#d62728', strokeWidth: 1.5 },
          encoding: { y: { field: 'pi', type: 'quantitative' } },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#d62728', fontSize: 13 },
          encoding: { y: { field: 'pi', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } },
        },
      ],
    },
    {
      data: { values: rows },
      layer: [
        {
          mark: { type: 'rule', color: '#08519c' },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
        {
          mark: { type: 'point', filled: true, size: 50, color: '#08519c' },
          encoding: {
            x,
            y: { field: 'pi', type: 'quantitative', title: 'estimate of π', scale: { zero: false } },
            tooltip: [{ field: 'samples', type: 'quantitative' }],
          },
        },
      ],
    },
  ];
  if (data.pi !== undefined) {
    layers.push({
      data: { values: [{ pi: data.pi }] },
      mark: { type: 'rule', color: '#08519c', strokeDash: [5, 4] },
      encoding: { y: { field: 'pi', type: 'quantitative' } },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'red: π; shaded: π ± 1σ for one engine; dashed: combined estimate' },
    width: Math.max(240, 40 * rows.length),
    height: 300,
    layer: layers,
  } as unknown as TopLevelSpec; // layers are built as plain records; compile() checks them
  return renderFigure(options.name ?? 'pi-per-engine', title, spec, options);
}

/**
 * Convergence of the running estimate with the number of samples (log x): the estimate, the
 * true value, and the ±1σ and ±3σ envelopes π ± kσ(n).
 */
export async function piConvergenceFigure(
  points: readonly { samples: number; pi: number }[],
  options: RenderOptions & { name?: string } = {},
): Promise<RenderedFigure> {
  const rows = points.filter((p) => p.samples > 0).sort((a, b) => a.samples - b.samples);
  const lo = rows[0]?.samples ?? 1;
  const hi = rows[rows.length - 1]?.samples ?? 10;
  const envelope: Record<string, number>[] = [];
  const steps = 60;
  for (let k = 0; k <= steps; k++) {
    const n = lo * Math.pow(hi / lo, k / steps);
    const s = piStderr(n);
    envelope.push({ samples: n, lo1: Math.PI - s, hi1: Math.PI + s, lo3: Math.PI - 3 * s, hi3: Math.PI + 3 * s });
  }
  const x = { field: 'samples', type: 'quantitative', title: 'samples', scale: { type: 'log' } } as const;
  const title = `Convergence of the π estimate (${hi.toExponential(2)} samples)`;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'shaded: π ± 1σ and ± 3σ' },
    width: 560,
    height: 300,
    layer: [
      {
        data: { values: envelope },
        layer: [
          {
            mark: { type: 'area', color: '#c6dbef', opacity: 0.6 },
            encoding: { x, y: { field: 'lo3', type: 'quantitative' }, y2: { field: 'hi3' } },
          },
          {
            mark: { type: 'area', color: '#6baed6', opacity: 0.6 },
            encoding: { x, y: { field: 'lo1', type: 'quantitative' }, y2: { field: 'hi1' } },
          },
        ],
      },
      {
        data: { values: [{ pi: Math.PI }] },
        mark: { type: 'rule', color: '#d62728' },
        encoding: { y: { field: 'pi', type: 'quantitative' } },
      },
      {
        data: { values: rows.map((r) => ({ samples: r.samples, pi: r.pi })) },
        mark: { type: 'line', point: { filled: true, size: 20 }, color: '#08306b' },
        encoding: { x, y: { field: 'pi', type: 'quantitative', title: 'estimate of π', scale: { zero: false } } },
      },
    ],
  } as TopLevelSpec;
  return renderFigure(options.name ?? 'pi-convergence', title, spec, options);
}
