package normlab.nn;

import java.util.Map;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * A residual block with an identity shortcut: y = body(x) + x (He et al. 2016). The body's output must have the
 * input's shape. Backward: dx = dy + body.backward(dy). Its one child is named {@code body}, so keys read
 * {@code body.0.weight}.
 */
public final class Residual extends Module {
    public final Module body;

    public Residual(Module body) {
        this.body = body;
        setPath("");
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor b = body.forward(x);
        if (!b.sameShape(x)) {
            throw new ShapeException(label() + ": body output shape " + b.shapeString() + " differs from the input shape "
                    + x.shapeString() + " of the identity shortcut");
        }
        // y = body(x) + x
        Tensor y = Tensor.zeros(x.shape());
        float[] yd = y.data, bd = b.data, xd = x.data;
        for (int i = 0; i < yd.length; i++) yd[i] = bd[i] + xd[i];
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        // dx = dy + d body/dx · dy
        Tensor g = body.backward(dy);
        Tensor dx = Tensor.zeros(dy.shape());
        float[] d = dx.data, a = g.data, b = dy.data;
        for (int i = 0; i < d.length; i++) d[i] = a[i] + b[i];
        return dx;
    }

    @Override
    public Map<String, Module> children() {
        return Map.of("body", body);
    }
}
