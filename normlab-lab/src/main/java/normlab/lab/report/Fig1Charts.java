package normlab.lab.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import normlab.io.AtomicFiles;
import normlab.lab.experiments.MnistExperiment.Point;
import normlab.lab.experiments.MnistExperiment.Result;
import normlab.lab.experiments.MnistExperiment.VariantResult;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The three panels of the paper's Figure 1 as XChart line charts, written as PNG and SVG:
 * (a) test accuracy against training steps for both networks; (b), (c) the 15th, 50th and 85th percentiles of the
 * input to one sigmoid of the last hidden layer, without and with BN, on a common y-axis so the two are comparable.
 * Rendering needs no display (run with {@code java.awt.headless=true}).
 */
public final class Fig1Charts {
    public static final int WIDTH = 800;
    public static final int HEIGHT = 500;
    static final Color BASELINE = new Color(0x1f, 0x4e, 0x9c);
    static final Color BN = new Color(0xd0, 0x3a, 0x1f);

    private Fig1Charts() {}

    /** File stems of the three panels, in order. */
    public static final List<String> NAMES = List.of("fig1a_accuracy", "fig1b_baseline_percentiles", "fig1c_bn_percentiles");

    /** Writes the three panels into {@code dir} as {@code <name>.png} and {@code <name>.svg}. */
    public static void write(Result r, Path dir) throws IOException {
        double[] range = percentileRange(r);
        List<XYChart> charts = List.of(
                accuracy(r),
                percentiles(r.baseline(), "(b) Without BN", BASELINE, range),
                percentiles(r.bn(), "(c) With BN", BN, range));
        for (int i = 0; i < charts.size(); i++) save(charts.get(i), dir.resolve(NAMES.get(i)));
    }

    /** Fig. 1a: test accuracy of both networks against training steps. */
    public static XYChart accuracy(Result r) {
        XYChart c = base("(a) Test accuracy", "test accuracy");
        line(c, "without BN", r.baseline().points(), Point::accuracy, BASELINE, 2f, true);
        line(c, "with BN", r.bn().points(), Point::accuracy, BN, 2.5f, false);
        c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setYAxisDecimalPattern("0.00");
        return c;
    }

    /** Fig. 1b/1c: the 15th, 50th and 85th percentiles of the followed sigmoid's input over the test set. */
    public static XYChart percentiles(VariantResult v, String title, Color color, double[] yRange) {
        XYChart c = base(title + ": input to one sigmoid, last hidden layer", "percentiles over the test set");
        Color light = new Color(color.getRed(), color.getGreen(), color.getBlue(), 150);
        line(c, "85th percentile", v.points(), Point::p85, light, 1.5f, true);
        line(c, "50th percentile", v.points(), Point::p50, color, 2.5f, false);
        line(c, "15th percentile", v.points(), Point::p15, light, 1.5f, true);
        c.getStyler().setYAxisMin(yRange[0]).setYAxisMax(yRange[1]).setYAxisDecimalPattern("0.0");
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS).setLegendLayout(Styler.LegendLayout.Horizontal);
        return c;
    }

    /** A y range holding every percentile of both variants, with a small margin. */
    static double[] percentileRange(Result r) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (VariantResult v : List.of(r.baseline(), r.bn())) {
            for (Point p : v.points()) {
                lo = Math.min(lo, p.p15());
                hi = Math.max(hi, p.p85());
            }
        }
        double pad = Math.max(0.05, 0.05 * (hi - lo));
        return new double[] {Math.floor((lo - pad) * 2) / 2, Math.ceil((hi + pad) * 2) / 2};
    }

    static XYChart base(String title, String yTitle) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("training steps")
                .yAxisTitle(yTitle).build();
        Styler s = c.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setLegendPosition(Styler.LegendPosition.InsideSE);
        s.setLegendBorderColor(new Color(0xcc, 0xcc, 0xcc));
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        s.setAntiAlias(true);
        c.getStyler().setXAxisDecimalPattern("#,##0").setPlotGridLinesColor(new Color(0xe4, 0xe4, 0xe4));
        c.getStyler().setPlotBorderVisible(false);
        return c;
    }

    private static void line(XYChart c, String name, List<Point> pts, java.util.function.ToDoubleFunction<Point> f,
                             Color color, float width, boolean dashed) {
        double[] x = new double[pts.size()], y = new double[pts.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = pts.get(i).step();
            y[i] = f.applyAsDouble(pts.get(i));
        }
        XYSeries s = c.addSeries(name, x, y);
        s.setMarker(SeriesMarkers.NONE);
        s.setLineColor(color);
        s.setLineStyle(dashed
                ? new BasicStroke(width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f)
                : new BasicStroke(width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    }

    static void save(XYChart c, Path stem) throws IOException {
        AtomicFiles.write(stem.resolveSibling(stem.getFileName() + ".png"), BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG));
        ByteArrayOutputStream svg = new ByteArrayOutputStream();
        VectorGraphicsEncoder.saveVectorGraphic(c, svg, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        AtomicFiles.write(stem.resolveSibling(stem.getFileName() + ".svg"), svg.toByteArray());
    }
}
