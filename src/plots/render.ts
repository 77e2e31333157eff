import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * A rendered figure: `name` is the file stem written to --out (`name.svg`, `name.png`).
 * Same shape as the job API's Figure (src/jobs/define.ts), declared here so plots stay a pure
 * layer below jobs.
 */
export interface Figure {
  name: string;
  title: string;
  svg: string;
  png: Uint8Array;
}

/** A figure with the specs it was built from (tests and callers inspect these). */
export interface RenderedFigure extends Figure {
  /** The Vega-Lite spec. */
  spec: TopLevelSpec;
  /** The compiled Vega spec. */
  vega: ReturnType<typeof compile>['spec'];
  /** PNG size in pixels. */
  width: number;
  height: number;
}

export interface RenderOptions {
  /** PNG pixels per SVG pixel (default 2: sharp on high-density screens and in papers). */
  scale?: number;
  /** A TrueType/OpenType font for the PNG's text; by default the first of a few well-known system fonts. */
  fontFile?: string;
}

/** Sans-serif fonts resvg can load, with their family names: Debian/Ubuntu, Fedora, Arch, Alpine, macOS, Windows. */
const KNOWN_FONTS: readonly (readonly [string, string])[] = [
  ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/dejavu/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/TTF/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', 'Liberation Sans'],
  ['/System/Library/Fonts/Supplemental/Arial.ttf', 'Arial'],
  ['/Library/Fonts/Arial.ttf', 'Arial'],
  ['C:\\Windows\\Fonts\\arial.ttf', 'Arial'],
];

let cachedFont: { file: string; family: string } | null | undefined;

/** The font the PNG renderer uses, or null when none of the known fonts exists (system fonts then). */
export function figureFont(): { file: string; family: string } | null {
  if (cachedFont === undefined) {
    const hit = KNOWN_FONTS.find(([file]) => existsSync(file));
    cachedFont = hit ? { file: hit[0], family: hit[1] } : null;
  }
  return cachedFont;
}

/** House style shared by every figure. */
export const FIGURE_CONFIG = {
  font: 'sans-serif',
  background: 'white',
  view: { stroke: '#888' },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.4, tickCount: 6 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 15, anchor: 'middle' },
} as const;

/**
 * Compiles a Vega-Lite spec with vega-lite, renders it to SVG with a headless vega View, and
 * rasterises the SVG to PNG with resvg (with an explicit font so text renders on machines
 * without a font configuration).
 */
export async function renderFigure(
  name: string,
  title: string,
  spec: TopLevelSpec,
  options: RenderOptions = {},
): Promise<RenderedFigure> {
  const full = { ...spec, config: { ...FIGURE_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const vega = compile(full).spec;
  const view = new View(parse(vega), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const scale = options.scale ?? 2;
  const font = options.fontFile ? { file: options.fontFile, family: '' } : figureFont();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: font
      ? {
          loadSystemFonts: false,
          fontFiles: [font.file],
          ...(font.family ? { defaultFontFamily: font.family, sansSerifFamily: font.family } : {}),
        }
      : { loadSystemFonts: true },
  });
  const image = resvg.render();
  const png = new Uint8Array(image.asPng());
  return { name, title, svg, png, spec: full, vega, width: image.width, height: image.height };
}

/** Width and height from a PNG's IHDR chunk (throws on anything that is not a PNG). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || sig.some((b, i) => png[i] !== b)) throw new Error('not a PNG: bad signature');
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(...png.subarray(12, 16)) !== 'IHDR') throw new Error('not a PNG: first chunk is not IHDR');
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
