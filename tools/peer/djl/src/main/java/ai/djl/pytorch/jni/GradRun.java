package ai.djl.pytorch.jni;

import ai.djl.pytorch.engine.PtSymbolBlock;
import java.util.Arrays;

/**
 * Runs a TorchScript method with autograd on. DJL's public IValueUtils.runMethod always runs under InferenceMode (its
 * native call's is-training flag is false), where autograd.grad inside the method fails; this helper, in DJL's package
 * because the native call and IValue's constructor are package-private, passes the flag. Methods that must not record a
 * graph say torch.no_grad() themselves (make_modules.py), as peer_torch.py does.
 */
public final class GradRun {
    private GradRun() {}

    /** block.method(inputs) with autograd enabled when {@code grad}, under InferenceMode otherwise. */
    public static IValue run(PtSymbolBlock block, String method, boolean grad, IValue... inputs) {
        long[] handles = Arrays.stream(inputs).mapToLong(IValue::getHandle).toArray();
        return new IValue(PyTorchLibrary.LIB.moduleRunMethod(block.getHandle(), method, handles, grad, false));
    }
}
