package normlab.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.tensor.Tensor;

/** Modules applied in order; children are named {@code "0"}, {@code "1"}, … as in PyTorch's {@code nn.Sequential}. */
public final class Sequential extends Module {
    private final List<Module> layers;
    private final Map<String, Module> named;

    public Sequential(Module... layers) {
        this(List.of(layers));
    }

    public Sequential(List<Module> layers) {
        this.layers = new ArrayList<>(layers);
        Map<String, Module> m = new LinkedHashMap<>();
        for (int i = 0; i < this.layers.size(); i++) m.put(Integer.toString(i), this.layers.get(i));
        this.named = Collections.unmodifiableMap(m);
        setPath("");
    }

    @Override
    public Tensor forward(Tensor x) {
        for (Module m : layers) x = m.forward(x);
        return x;
    }

    @Override
    public Tensor backward(Tensor g) {
        for (int i = layers.size() - 1; i >= 0; i--) g = layers.get(i).backward(g);
        return g;
    }

    /** Backward through every layer, the first one without its input gradient. */
    @Override
    public void backwardParams(Tensor g) {
        for (int i = layers.size() - 1; i > 0; i--) g = layers.get(i).backward(g);
        if (!layers.isEmpty()) layers.get(0).backwardParams(g);
    }

    @Override
    public Map<String, Module> children() {
        return named;
    }

    /** The i-th layer. */
    public Module get(int i) {
        return layers.get(i);
    }

    public int size() {
        return layers.size();
    }

    /** The layers, read-only. */
    public List<Module> layers() {
        return Collections.unmodifiableList(layers);
    }
}
