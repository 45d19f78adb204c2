import java.nio.file.Path;
import normlab.models.MnistMlp;
import normlab.io.ModelFiles;
import normlab.tensor.Rng;
public class MkMlp {
  public static void main(String[] a) throws Exception {
    var m = MnistMlp.build(true, 1.0, new Rng(1));
    var r = new Rng(2);
    for (var e : m.namedBuffers().entrySet()) if (e.getKey().endsWith("running_var")) for (int i=0;i<e.getValue().data.length;i++) e.getValue().data[i]=(float)(0.5+r.nextDouble());
    ModelFiles.save(m, Path.of(a[0]));
    ModelFiles.save(MnistMlp.build(false, 1.0, new Rng(1)), Path.of(a[0].replace(".safetensors","-nobn.safetensors")));
  }
}
