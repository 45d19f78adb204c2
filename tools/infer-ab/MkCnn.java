import java.nio.file.Path;
import normlab.models.SmallCnn;
import normlab.io.ModelFiles;
import normlab.tensor.Rng;
/**
 * The SmallCnn(BN, c1, c2) model file of issue #22's CNN benchmarks: random weights (Rng 1), running variances
 * uniform in [0.5, 1.5) (Rng 2), saved with its no-BN twin ({@code -nobn}).
 *
 * <pre>java --add-modules jdk.incubator.vector -cp $CP tools/infer-ab/MkCnn.java /tmp/inf/cnn.safetensors 32 64</pre>
 */
public class MkCnn {
  public static void main(String[] a) throws Exception {
    var m = SmallCnn.build(SmallCnn.Norm.BN, Integer.parseInt(a[1]), Integer.parseInt(a[2]), new Rng(1));
    var r = new Rng(2);
    for (var e : m.namedBuffers().entrySet()) if (e.getKey().endsWith("running_var")) for (int i=0;i<e.getValue().data.length;i++) e.getValue().data[i]=(float)(0.5+r.nextDouble());
    ModelFiles.save(m, Path.of(a[0]));
    var n = SmallCnn.build(SmallCnn.Norm.NONE, Integer.parseInt(a[1]), Integer.parseInt(a[2]), new Rng(1));
    ModelFiles.save(n, Path.of(a[0].replace(".safetensors","-nobn.safetensors")));
  }
}
