package normlab.optim;

import java.util.List;
import normlab.nn.Parameter;

/** Updates parameters from their accumulated gradients. */
public interface Optimizer {
    /** Applies one update to every parameter. */
    void step();

    /** The parameters this optimizer updates. */
    List<Parameter> parameters();

    /** Clears every gradient. */
    default void zeroGrad() {
        for (Parameter p : parameters()) p.zeroGrad();
    }
}
