// Zillow logerror: Bayesian linear regression on standardized predictors.
//
//   y_i ~ normal(alpha + x_i * beta, sigma)
//
// Exact but fast: the Gaussian log likelihood is computed from the sufficient statistics
// (y'y, X'y, X'X and the sums), so each evaluation costs O(K^2) whatever the number of rows.
// sigma is estimated by default; estimate_sigma = 0 fixes it at sigma_fixed (the tutorial
// used sigma = 1, config key zillow.fixed_sigma).
//
// Correlated predictors: NUTS samples theta = R* beta (QR reparameterisation, computed from X'X in
// transformed data); beta = R*^-1 theta is a transformed parameter. The map is linear, so its
// Jacobian is constant and the priors stay on beta: same generative model, same posterior.
functions {
  // R* of the QR reparameterisation (Stan User's Guide, "QR reparameterization") from X'X alone:
  // with X = Q R (thin), X'X = R'R, so R is the transposed Cholesky factor of X'X and
  // R* = R / sqrt(N - 1), as qr_thin_R(X) / sqrt(N - 1) up to the signs of its rows.
  matrix qr_r_ast(matrix xx, int n) {
    int k = rows(xx);
    if (k == 0) {
      return xx;
    }
    vector[k] eigen = eigenvalues_sym(xx);
    if (eigen[1] <= 1e-10 * eigen[k]) {
      reject("X'X is singular (smallest eigenvalue ", eigen[1], "): two predictors are (nearly) ",
             "the same column; see zillow.max_predictor_correlation");
    }
    return cholesky_decompose(xx)' / sqrt(max(n - 1, 1));
  }
}
data {
  int<lower=1> N;                       // training rows
  int<lower=0> K;                       // predictors (standardized)
  real<lower=0> yy;                     // sum of y^2
  real y_sum;                           // sum of y
  vector[K] xy;                         // X' y
  vector[K] x_sum;                      // column sums of X
  matrix[K, K] xx;                      // X' X
  int<lower=0, upper=1> estimate_sigma; // 0: sigma = sigma_fixed
  real<lower=0> sigma_fixed;
  // rows replicated for prior / posterior predictive checks
  int<lower=0> N_rep;
  vector[N_rep] y_obs;                  // their observed y (checks only, not the likelihood)
  matrix[N_rep, K] X_rep;
  int<lower=0, upper=1> prior_only;     // 1: sample the prior (no likelihood)
}
transformed data {
  // theta = R* beta is sampled: the likelihood is nearly spherical in theta whatever the
  // correlation of the predictors, so NUTS needs short trajectories.
  matrix[K, K] R_ast = qr_r_ast(xx, N);
  matrix[K, K] R_ast_inverse = inverse(R_ast);
}
parameters {
  real alpha;
  vector[K] theta;                      // R* beta
  vector<lower=0>[estimate_sigma] sigma_free;  // empty when sigma is fixed
}
transformed parameters {
  vector[K] beta = R_ast_inverse * theta;  // coefficients on the standardized predictors
  real<lower=0> sigma = estimate_sigma ? sigma_free[1] : sigma_fixed;
}
model {
  // Priors of the tutorial: alpha, beta ~ N(0, 1) on the standardized scale; half-normal(0, 1)
  // on sigma (logerror is a log price ratio: scales above 1 are implausible).
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma_free ~ normal(0, 1);
  if (!prior_only) {
    real ss = yy - 2 * alpha * y_sum - 2 * dot_product(beta, xy) + N * square(alpha)
              + 2 * alpha * dot_product(beta, x_sum) + quad_form(xx, beta);
    target += -N * log(sigma) - 0.5 * ss / square(sigma) - 0.5 * N * log(2 * pi());
  }
}
generated quantities {
  // sigma as a vector of size N_rep: normal_rng(vector[0], real) draws one value into the
  // empty vector and crashes CmdStan 2.35 when N_rep = 0.
  vector[N_rep] y_rep = to_vector(normal_rng(alpha + X_rep * beta, rep_vector(sigma, N_rep)));
}
