export { renderFigure, pngSize, figureFont, type Figure, type RenderedFigure, type RenderOptions } from './render.js';
export { lightCurveFigure, phasedLightCurveFigure, BAND_COLOURS, type PlotBand } from './lightcurve.js';
export { periodogramFigure, peakEnvelope } from './periodogram.js';
export { piPerEngineFigure, piConvergenceFigure, piStderr, type PiEngineEstimate } from './pi.js';
export { periodsFigure, histogram, type PeriodPoint } from './periods.js';
