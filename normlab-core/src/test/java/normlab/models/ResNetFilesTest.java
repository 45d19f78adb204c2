package normlab.models;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import normlab.infer.Fold;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Module;
import normlab.norm.RunningStatsNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ResNets as model files (model.json + safetensors, reloaded with no code, and opened strictly in PyTorch by
 * tools/interop/torch_interop.py), and folding: every BN of a post-activation ResNet folds into the conv before it
 * (outputs within 1e-5 of the unfolded eval model, no BN left); in a pre-activation ResNet each block's bn2 folds
 * into conv1, while each bn1 and the final norm are refused with the reason.
 */
class ResNetFilesTest {
    private static final double TOL = 1e-5;

    @TempDir
    Path tmp;

    private static Tensor randn(Rng r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }

    /** Non-trivial γ, β and running statistics in every norm. */
    static void randomizeNorms(Module m, Rng r) {
        for (Map.Entry<String, Tensor> e : m.stateTensors().entrySet()) {
            String k = e.getKey();
            float[] d = e.getValue().data;
            boolean norm = k.contains("bn") || k.matches("(\\d+\\.)*\\d+\\.(weight|bias)") && e.getValue().rank() == 1 && !k.startsWith("7.");
            if (k.endsWith("running_var")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.5 + r.nextDouble());
            else if (k.endsWith("running_mean")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.3 * r.nextGaussian());
            else if (norm && k.endsWith("weight")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.5 + r.nextDouble());
            else if (norm && k.endsWith("bias")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.2 * r.nextGaussian());
        }
        m.loadStateDict(m.stateDict()); // marks the parameters changed
    }

    private static double relErr(Tensor got, Tensor ref) {
        assertArrayEquals(ref.shape(), got.shape());
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < ref.numel(); i++) {
            maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
            maxDiff = Math.max(maxDiff, Math.abs(got.data[i] - ref.data[i]));
        }
        return maxDiff / maxRef;
    }

    private static int runningNorms(Module m) {
        int n = m instanceof RunningStatsNorm ? 1 : 0;
        for (Module c : m.children().values()) n += runningNorms(c);
        return n;
    }

    private Module model(ResNet.Block kind, ResNet.Norm norm, long seed) {
        Rng r = new Rng(seed);
        Module m = ResNet.build(ResNet.Config.of(8, kind, norm).withWidths(4, 8, 8), r);
        randomizeNorms(m, r);
        return m.eval();
    }

    @Test
    void modelFilesRoundTripBitForBit() throws Exception {
        Rng r = new Rng(3);
        Tensor x = randn(r, 3, 1, 28, 28);
        for (ResNet.Block kind : ResNet.Block.values()) {
            for (ResNet.Norm norm : new ResNet.Norm[] {ResNet.BN, ResNet.gn(2), ResNet.NONE}) {
                Module m = model(kind, norm, 5);
                Path f = tmp.resolve(kind + norm.label() + ".safetensors");
                ModelFiles.save(m, f);
                Module back = ModelFiles.load(f).eval();
                assertEquals(m.toString(), back.toString());
                assertArrayEquals(m.forward(x).data, back.forward(x).data, kind + " " + norm.label());
            }
        }
        String json = Files.readString(ModelFiles.descriptionPath(tmp.resolve("POSTBN.safetensors")));
        assertTrue(json.contains("\"BasicBlock\"") && json.contains("\"BatchNorm2d\""), json);
        assertTrue(model(ResNet.Block.POST, ResNet.BN, 1).toString().contains("(downsample): Sequential("));
    }

    @Test
    void postActivationFoldsEveryBatchNorm() {
        Module m = model(ResNet.Block.POST, ResNet.BN, 7);
        Tensor x = randn(new Rng(8), 4, 1, 28, 28);
        Fold.Result res = Fold.foldWhereAllowed(m);
        assertEquals(List.of(), res.refused());
        // stem BN, 2 per block (3 blocks), the 2 downsample BNs
        assertEquals(1 + 6 + 2, res.folded().size());
        assertEquals(0, runningNorms(res.model()));
        double err = relErr(res.model().forward(x), m.forward(x));
        assertTrue(err <= TOL, "folded post-activation ResNet-8: rel err " + err);
        assertTrue(res.folded().contains(new Fold.Pair("Conv2d '4.0.downsample.0'", "BatchNorm2d '4.0.downsample.1'")), res.folded().toString());
    }

    @Test
    void preActivationBatchNormDoesNotFoldAndSaysWhy() {
        Module m = model(ResNet.Block.PRE, ResNet.BN, 9);
        Fold.FoldException e = assertThrows(Fold.FoldException.class, () -> Fold.fold(m));
        assertEquals(4, e.reasons.size(), e.getMessage()); // three bn1 and the final norm
        assertEquals("cannot fold BatchNorm2d '1.0.bn1': it is a pre-activation norm, the first layer of PreActBlock '1.0', "
                + "normalizing the block's input (a residual sum or the stem's output) rather than the output of one Linear or Conv2d, "
                + "so no layer can absorb it; it stays in place as its eval-mode affine", e.reasons.get(0));
        assertEquals("cannot fold BatchNorm2d '4' into Conv2d '3.0.conv2': the residual join of PreActBlock '3.0' lies between them",
                e.reasons.get(3));
        Fold.Result res = Fold.foldWhereAllowed(m);
        assertEquals(3, res.folded().size()); // each block's bn2 into its conv1
        assertEquals(4, runningNorms(res.model()));
        Tensor x = randn(new Rng(10), 4, 1, 28, 28);
        double err = relErr(res.model().forward(x), m.forward(x));
        assertTrue(err <= TOL, "partly folded pre-activation ResNet-8: rel err " + err);
    }

    /** The files written here open in PyTorch (strict load) and give the same eval outputs, when torch is installed. */
    @Test
    void resnetFilesLoadStrictlyInPytorch() throws Exception {
        Rng r = new Rng(12);
        List<String> names = new ArrayList<>();
        for (ResNet.Block kind : ResNet.Block.values()) {
            for (ResNet.Norm norm : new ResNet.Norm[] {ResNet.BN, ResNet.gn(2)}) {
                Module m = model(kind, norm, 13);
                String name = "resnet8_" + kind.name().toLowerCase() + "_" + (norm == ResNet.BN ? "bn" : "gn");
                Tensor x = randn(r, 3, 1, 28, 28);
                ModelFiles.save(m, tmp.resolve(name + ".safetensors"));
                Safetensors.write(tmp.resolve(name + "_io.safetensors"), Map.of("inputs", x, "outputs", m.forward(x)), Map.of());
                names.add(name);
            }
        }
        Module folded = Fold.fold(model(ResNet.Block.POST, ResNet.BN, 14));
        Tensor x = randn(r, 3, 1, 28, 28);
        ModelFiles.save(folded, tmp.resolve("resnet8_post_bn_folded.safetensors"));
        Safetensors.write(tmp.resolve("resnet8_post_bn_folded_io.safetensors"), Map.of("inputs", x, "outputs", folded.forward(x)), Map.of());
        names.add("resnet8_post_bn_folded");
        if (!new File("/usr/bin/python3").canExecute()) {
            System.out.println("no /usr/bin/python3: PyTorch check of ResNet files skipped");
            return;
        }
        Path script = Path.of("").toAbsolutePath();
        while (script != null && !Files.exists(script.resolve("tools/interop/torch_interop.py"))) script = script.getParent();
        assertNotNull(script, "tools/interop/torch_interop.py not found");
        Process p = new ProcessBuilder("/usr/bin/python3", script.resolve("tools/interop/torch_interop.py").toString(), "check", tmp.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "torch_interop.py check timed out");
        System.out.print(out);
        if (out.contains("No module named 'torch'")) return;
        assertEquals(0, p.exitValue(), out);
        for (String n : names) assertTrue(out.contains(n + ": ok"), out);
    }
}
