package normlab.lab.evidence;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import normlab.io.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The charts every experiment draws, in one style: line charts of a quantity's mean over seeds with error bars of
 * ±1 sample standard deviation ({@link Spread}), optionally on a log x-axis (learning rates, batch sizes, sample
 * counts), and bar charts for per-method comparisons. Written as PNG and SVG, atomically, without a display.
 */
public final class Charts {
    public static final int WIDTH = 800;
    public static final int HEIGHT = 480;
    /** Distinct, print-safe colors; series i takes PALETTE[i % n]. */
    public static final List<Color> PALETTE = List.of(new Color(0x1f4e9c), new Color(0xd03a1f), new Color(0x2a9d3a),
            new Color(0x8e44ad), new Color(0xe08e0b), new Color(0x17a2b8), new Color(0x6d4c41), new Color(0xc2185b),
            new Color(0x555555));

    private Charts() {}

    /** An empty line chart with the common style. */
    public static XYChart xy(String title, String xTitle, String yTitle, boolean logX) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setXAxisLogarithmic(logX);
        c.getStyler().setErrorBarsColorSeriesColor(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        return c;
    }

    /** An empty bar chart with the common style. */
    public static CategoryChart bars(String title, String yTitle) {
        CategoryChart c = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setErrorBarsColorSeriesColor(true);
        c.getStyler().setLegendVisible(false);
        c.getStyler().setXAxisLabelRotation(30);
        return c;
    }

    private static void style(AxesChartStyler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setLegendBorderColor(new Color(0xcc, 0xcc, 0xcc));
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        s.setAntiAlias(true);
        s.setPlotGridLinesColor(new Color(0xe4, 0xe4, 0xe4));
        s.setPlotBorderVisible(false);
    }

    /**
     * Adds the mean of {@code ys[i]} at {@code x[i]} with ±sd error bars; points whose mean is not finite are left out.
     * {@code index} picks the color; {@code dashed} for reference series.
     */
    public static void series(XYChart c, String name, double[] x, Spread[] ys, int index, boolean dashed) {
        int n = 0;
        for (Spread s : ys) if (Double.isFinite(s.mean())) n++;
        double[] xs = new double[n], m = new double[n], e = new double[n];
        for (int i = 0, k = 0; i < x.length; i++) {
            if (!Double.isFinite(ys[i].mean())) continue;
            xs[k] = x[i];
            m[k] = ys[i].mean();
            e[k++] = ys[i].sd();
        }
        if (n == 0) return;
        XYSeries s = c.addSeries(name, xs, m, e);
        Color col = PALETTE.get(index % PALETTE.size());
        s.setLineColor(col);
        s.setMarkerColor(col);
        s.setMarker(SeriesMarkers.CIRCLE);
        s.setLineStyle(dashed
                ? new BasicStroke(1.8f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f)
                : new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    }

    /** Writes {@code dir/name.png} and {@code dir/name.svg}. */
    public static void save(Chart<?, ?> c, Path dir, String name) throws IOException {
        AtomicFiles.write(dir.resolve(name + ".png"), BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG));
        ByteArrayOutputStream svg = new ByteArrayOutputStream();
        VectorGraphicsEncoder.saveVectorGraphic(c, svg, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        AtomicFiles.write(dir.resolve(name + ".svg"), svg.toByteArray());
    }
}
